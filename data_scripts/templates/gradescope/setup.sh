#!/usr/bin/env bash
# Gradescope runs this once, as root, from /autograder/source, when it builds
# the autograder image. It installs the pinned grading environment in
# /autograder/venv: torch/torchvision exactly as pyproject.toml pins them
# (requirements.txt was generated from it), under constraints.txt.
#
# Built by `python -m data_scripts.gradescope_bundle` (see docs/staff.md).
# AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_BASE_PYTHON (default
# python3) exist for trying it elsewhere.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
BASE_PYTHON="${AUTOGRADER_BASE_PYTHON:-python3}"
PYTHON_MIN="@REQUIRES_PYTHON@"

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip ca-certificates
fi

"$BASE_PYTHON" - "$PYTHON_MIN" <<'PY'
import sys
needed = tuple(int(part) for part in sys.argv[1].split("."))
if sys.version_info[:2] < needed:
    sys.exit(f"setup.sh: the grader needs Python {sys.argv[1]} or newer, but {sys.executable} is "
             f"{sys.version.split()[0]}. Choose Gradescope's Ubuntu 22.04 (or newer) base image.")
PY

"$BASE_PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# constraints.txt excludes one local CPU-only torch build that some machines
# carry; here (no such wheel) pip installs the registry's pinned torch.
"$VENV/bin/python" -m pip install --quiet -c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"

# The pinned pair must load together: torchvision's compiled ops need the matching torch.
"$VENV/bin/python" -c 'import torch, torchvision
torchvision.ops.nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
print("setup.sh: torch", torch.__version__, "torchvision", torchvision.__version__)'

# Sandboxed workers (another uid) must reach the interpreter, never the grader's
# files: /autograder traversable (not listable), the whole bundle (dot-folders too) private.
chmod a+x "$ROOT"
chmod -R a+rX "$VENV"
chmod -R go-rwx "$SOURCE"
echo "setup.sh: grading environment ready in $VENV"
