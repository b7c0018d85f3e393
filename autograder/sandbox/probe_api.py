"""What a probe (a trusted driver running inside the sandbox) works with.

A probe is a plain function in ``autograder/probes/<module>.py``::

    def call_iou(sub: SubmissionModules, boxes1, boxes2) -> dict:
        return {"iou": expect_tensor(sub.iou(boxes1, boxes2), "iou(boxes1, boxes2)")}

It receives the student's modules and the keyword arguments the grading test
passed to ``Sandbox.call``; it returns a dict of plain values (see
``safe_transfer``).  Everything it returns is untrusted: student code runs in
the same process and may have patched anything.  Probes must not catch
exceptions broadly, or the worker's failure classification is lost; they
raise ``errors.InvalidOutput`` for a value of the wrong type or shape.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from types import ModuleType

import torch

from autograder.sandbox import student_traceback
from autograder.errors import InvalidOutput, MissingDefinition, SubmissionImportError
from autograder.submission_layout import COMMON_MODULE, DETECTOR_MODULE, HOME_MODULE, KNOWN_NAMES, SUBMISSION_MODULES


class SubmissionModules:
    """The student's ``common`` and ``two_stage_detector``, imported on first use.

    ``sub.nms`` (any name from ``submission_layout.KNOWN_NAMES``) or ``sub.definition(name)``
    looks a definition up in its home file first, then in the other file.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._modules: dict[str, ModuleType] | None = None

    @property
    def common(self) -> ModuleType:
        return self._load()[COMMON_MODULE]

    @property
    def two_stage_detector(self) -> ModuleType:
        return self._load()[DETECTOR_MODULE]

    def __getattr__(self, name: str) -> object:
        if name in KNOWN_NAMES:
            return self.definition(name)
        raise AttributeError(f"SubmissionModules has no attribute {name!r}; use definition({name!r})")

    def definition(self, name: str) -> object:
        """The student's object called ``name``; ``MissingDefinition`` if absent."""
        modules = self._load()
        home = HOME_MODULE.get(name, DETECTOR_MODULE)
        for module_name in (home, *(m for m in SUBMISSION_MODULES if m != home)):
            if hasattr(modules[module_name], name):
                return getattr(modules[module_name], name)
        defined = {n for module in modules.values() for n in vars(module) if not n.startswith("__")}
        close = difflib.get_close_matches(name, sorted(defined), n=3, cutoff=0.6)
        close += sorted(n for n in defined if n.lower() == name.lower() and n not in close)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise MissingDefinition(f"`{name}` is not defined in {home}.py.{hint}")

    def _load(self) -> dict[str, ModuleType]:
        if self._modules is None:
            sys.path.insert(0, self.directory)
            for name in SUBMISSION_MODULES:
                sys.modules.pop(name, None)
            modules = {}
            for name in SUBMISSION_MODULES:
                try:
                    modules[name] = importlib.import_module(name)
                except BaseException as error:  # SystemExit too: importing must not end the worker
                    raise SubmissionImportError(describe_import_failure(error, name, self.directory)) from None
            self._modules = modules
        return self._modules


def describe_import_failure(error: BaseException, module: str, directory: str) -> str:
    """Teaching message for a submission that cannot be imported."""
    if isinstance(error, SyntaxError):
        return "Your code has a syntax error:\n" + student_traceback.exception_line(error, directory)
    if isinstance(error, SystemExit):
        frame = student_traceback.innermost_student_frame(error, directory)
        where = f" at {student_traceback.location(frame, directory)}" if frame else ""
        return f"Importing {module}.py called sys.exit(){where}; files must only define things when imported."
    return f"Importing {module}.py failed:\n" + student_traceback.format_traceback(error, directory)


def expect_tensor(value: object, what: str, *, ndim: int | None = None) -> torch.Tensor:
    """``value`` if it is a plain tensor (with ``ndim`` dimensions), else ``InvalidOutput``."""
    if not isinstance(value, torch.Tensor) or type(value) not in (torch.Tensor, torch.nn.Parameter):
        raise InvalidOutput(f"{what} returned {type(value).__name__}; expected a torch.Tensor")
    if ndim is not None and value.dim() != ndim:
        raise InvalidOutput(f"{what} returned a tensor of shape {tuple(value.shape)}; expected {ndim} dimensions")
    return value.detach()

def plain(value, what: str):
    """Detach tensors and move them to the CPU, through dicts, lists, tuples."""
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise InvalidOutput(f"{what} returned a {type(value).__name__}; expected a torch.Tensor")
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {str(k): plain(v, f"{what}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f"{what}[{i}]") for i, v in enumerate(value))
    return value
