"""How long the notebook takes and how it survives a disconnect: one text for the notebook and the README.

The CPU figure is the reference's training step at the full run's settings,
as measured by ``python -m benchmarks.grading`` (docs/staff.md: 1.55 s on
one thread); the GPU figure is an estimate, so students are told to read
the time the training cells print.
"""

FULL_RUN_CPU_S_PER_ITER = 1.5  # docs/staff.md, "training step", --config full


def running_time_section() -> str:
    return f"""\
**How long it takes.** One iteration of the full run (16 images of 224x224, FPN width 128) \
takes about {FULL_RUN_CPU_S_PER_ITER:g} CPU seconds on one core of a recent CPU, and roughly a \
tenth of that on a Colab GPU (an estimate: the training cells print their time per iteration, \
so check yours). The full run of 9000 iterations therefore takes roughly 20-40 minutes on a \
Colab GPU and several hours on a laptop CPU; the two overfitting runs take a few minutes on a GPU.

**Quick settings for a CPU.** Try your code with small settings first, for example \
`BATCH_SIZE = 4`, `FULL_FPN_CHANNELS = 32`, `FULL_ITERS = 800`, `RPN_OVERFIT_ITERS = 200` and \
`DETECTOR_OVERFIT_ITERS = 200` in the parameters cell (keep one line per setting). Your values \
do not change your grade: the grader sets its own.

**Disconnects.** The full run saves its model, optimiser and loss history to \
`OUTPUT_DIR/full_run_checkpoint.pt` every `CHECKPOINT_PERIOD` iterations and after its last one \
(on your Drive when it is mounted). After a disconnect, run the notebook again from the top: the \
full-training cell continues from the last checkpoint instead of starting over, and once the run \
is complete it just loads the trained model. Delete the file to train afresh (for example after \
changing the model or `FULL_ITERS`)."""
