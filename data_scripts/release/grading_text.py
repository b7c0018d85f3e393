"""What students are told about grading, generated from the grader itself.

Every number here is read from ``autograder/``: points from the graded tests'
markers (``autograder.units.points_table``), the notebook stage's data, parameters,
limits and thresholds from ``autograder.notebook.grading_profile``. The texts are
pasted into the notebook and the READMEs by ``generated_text.py``, so they
change with the grader and the drift check flags copies that did not.
"""

from autograder.notebook.grading_data import LOSS_BATCHES
from autograder.notebook.grading_profile import CHECKPOINT_FILE, GRADING_PROFILE
from autograder.submission_layout import SUBMISSION_FILES
from autograder.units.points_table import graded_tests, points_table_markdown, stage_points
from autograder.intake.submission import PREFERRED_NOTEBOOK
from autograder.test_notebook import LOSS_POINTS, MAP_POINTS
from autograder.notebook.parameters import PARAMETERS_TAG

# The notebook stage's own data replace these (autograder/notebook/grading_data.py); the students' runs use VOC.
_PROFILE = GRADING_PROFILE


def points_table() -> str:
    return points_table_markdown(graded_tests())


def grading_section() -> str:
    """What is graded, how the notebook is re-run and judged, what to submit, what to keep."""
    tests = graded_tests()
    stages = stage_points(tests)
    units, notebook = _number(stages["units"]), _number(stages["notebook"])
    loss_points, map_points = _number(LOSS_POINTS), _number(MAP_POINTS)
    p = _PROFILE
    injected = ", ".join(f"`{name} = {value!r}`" for name, value in p.notebook_parameters().items())
    files = " and ".join(f"`{name}`" for name in SUBMISSION_FILES)
    return f"""\
**What is graded.** {_number(stages["units"] + stages["notebook"])} points: {units} from unit tests of the \
functions and classes you implement, {notebook} from re-running your notebook.

{points_table_markdown(tests)}

* **Unit tests** call each of your definitions on fresh random inputs (seeded by your \
submission, so the same submission always gets the same score) and compare the results with \
the reference solution: values, shapes, dtypes and the order of rows that these instructions \
pin. Tests of a definition that still raises `NotImplementedError` score 0.
* **The notebook is re-run by the grader**, top to bottom, headless, on a CPU, with its own \
data: a synthetic training set of {p.num_train} images of {p.image_size}x{p.image_size} pixels \
instead of PASCAL VOC. It sets its own values after your parameters cell: {injected}. Your own \
run's outputs, plots and mAP are not graded, and neither is anything the re-run prints or \
writes, except the checkpoint that the full-training cell saves (`{CHECKPOINT_FILE}`). \
The grader loads its weights into a detector it builds from your definitions, as that cell \
does, and compares it with the same detector untrained. Two checks:
  * {loss_points} points: on {LOSS_BATCHES} training batches the grader picks, the trained \
detector's mean loss is below {p.max_loss_ratio:g} times the untrained one's, and the trained \
detector tells the classes apart (its mAP@0.5 below, with its class labels matched to the \
classes they suit best, reaches {p.min_map:g}: a consistent labelling mistake keeps these points);
  * {map_points} points: on {p.num_val} validation images the grader generates for each grade \
(never shown to your notebook), the trained detector reaches an mAP@0.5 of at least \
{p.min_map:g}, and the untrained one stays below {p.max_untrained_map:g}.

  The run must finish within {p.cell_cpu_limit_s:g} CPU seconds per cell, \
{p.total_cpu_limit_s:g} CPU seconds in all and {p.wall_limit_s:g} seconds of wall-clock time \
(seconds of the grader's reference machine). \
Vectorised code fits; Python loops over every box or anchor may not.

**What to submit**, in one of these forms:

* this notebook, `{PREFERRED_NOTEBOOK}` (your code in its TODO cells): the unit tests take your \
definitions from its code cells, and the grader re-runs the notebook itself;
* or the two files {files} with your definitions (the grader then re-runs the release notebook \
with your definitions in place of its TODO cells);
* or a `.zip` of either.

**Keep the shape of these cells**, or the grader cannot run your notebook:

* the first code cell (tagged `{PARAMETERS_TAG}`): keep every `NAME = value` line, and put \
nothing else in it; the grader refuses a notebook whose parameters cell lost a line;
* the full-training cell: it builds the detector with these arguments, trains it for \
`max_iters=FULL_ITERS` iterations and saves its checkpoint (`checkpoint_path`, \
`checkpoint_period=CHECKPOINT_PERIOD`);
* the names and signatures of the functions and classes you implement."""


def _number(value: float) -> str:
    return f"{value:g}"
