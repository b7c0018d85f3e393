"""Run a notebook headless, top to bottom, in a kernel of this interpreter.

The kernel is started from a throw-away kernelspec that points at
`sys.executable` (the project's virtual environment), so nothing has to be
installed globally and whatever `python3` kernel the machine may have is not
used. Environment variables for the kernel go into that kernelspec.
"""

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

KERNEL_NAME = "release-python"
DEFAULT_CELL_TIMEOUT_S = 600


def _write_kernelspec(kernels_dir: Path, python: str, env: Mapping[str, str]) -> None:
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({python})",
        "language": "python",
        "env": dict(env),
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))


def execute_notebook(
    notebook: NotebookNode,
    cwd: os.PathLike,
    env: Optional[Mapping[str, str]] = None,
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    python: str = sys.executable,
) -> NotebookNode:
    """Execute `notebook` in place (outputs filled in) and return it.

    Args:
        cwd: The kernel's working directory (relative paths in the notebook).
        env: Extra environment variables for the kernel, on top of ours.
        cell_timeout_s: Longest a single cell may run.
        python: The interpreter that runs the kernel (needs ipykernel).

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (the message
            shows the cell and the traceback).
        nbclient.exceptions.CellTimeoutError: a cell ran too long.
    """
    with tempfile.TemporaryDirectory(prefix="kernelspec-") as kernels_dir:
        _write_kernelspec(Path(kernels_dir), python, env or {})
        spec_manager = KernelSpecManager(kernel_dirs=[kernels_dir])
        kernel_manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=spec_manager)
        client = NotebookClient(
            notebook,
            km=kernel_manager,
            timeout=cell_timeout_s,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute()
    return notebook
