#!/usr/bin/env bash
# Slurm array job: grade a whole class across the cluster, one shard per array task.
#
# Staff (docs/staff.md, "Grading across machines"): edit the #SBATCH lines and
# the three paths below, then, from the grader's checkout on a shared filesystem:
#   jobid=$(sbatch --parsable data_scripts/templates/slurm_batch.sh)
#   sbatch --dependency=afterany:$jobid --wrap "$PWD/data_scripts/templates/slurm_batch.sh merge"
# Array task K of N grades share K/N of SUBMISSIONS into $OUT_ROOT/shard-K;
# `merge` combines every shard into $OUT_ROOT/merged/gradebook.csv, the same
# bytes as one `python -m autograder batch` run. Re-submitting the array
# resumes: finished submissions are skipped. Run as root (or with a
# rootless container runtime that maps to root) for the sandbox's isolation.
#
#SBATCH --job-name=autograde
#SBATCH --array=1-8
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=08:00:00
#SBATCH --output=autograde-%A_%a.log
set -euo pipefail

GRADER_DIR="${GRADER_DIR:-$HOME/two-stage-detector-course}"   # this repository, on a shared filesystem
PYTHON="${PYTHON:-$GRADER_DIR/.venv/bin/python}"                # `make env` there
SUBMISSIONS="${SUBMISSIONS:-$HOME/class/submissions}"          # folder, or Gradescope's export zip
OUT_ROOT="${OUT_ROOT:-$HOME/class/out}"
OPTIONS=(${BATCH_OPTIONS:-})                                    # e.g. BATCH_OPTIONS=--units-only

cd "$GRADER_DIR"
if [ "${1:-}" = merge ]; then
    exec "$PYTHON" -m autograder merge "$OUT_ROOT"/shard-* --out "$OUT_ROOT/merged"
fi
: "${SLURM_ARRAY_TASK_ID:?submit with sbatch (an array job), or pass 'merge'}"
: "${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=1-N}"
exec "$PYTHON" -m autograder batch "$SUBMISSIONS" --out "$OUT_ROOT/shard-$SLURM_ARRAY_TASK_ID" \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" --jobs "$(( ${SLURM_CPUS_PER_TASK:-2} / 2 ))" \
    ${OPTIONS[@]+"${OPTIONS[@]}"}
