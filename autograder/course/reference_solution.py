"""The reference solution, loaded in the trusted parent to compute expectations.

The reference is never importable by student code (the sandbox hides its
folder); here it is loaded under private module names, so that it cannot be
confused with anything called `common` elsewhere.
"""
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

from autograder.module_by_path import import_by_path

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"
_PRIVATE_PREFIX = "_autograder_reference_"


def _load(path: Path, name: str) -> ModuleType:
    return import_by_path(path, _PRIVATE_PREFIX + name, cache=False)


@lru_cache(maxsize=None)
def load_reference(directory: Path = REFERENCE_DIR) -> SimpleNamespace:
    """
    The reference's two modules as one namespace: `ref.iou`, `ref.RPN`, ...

    `two_stage_detector` does `from common import ...`: while it loads,
    `sys.modules["common"]` is the reference's common, then it is restored.
    """
    common = _load(directory / "common.py", "common")
    saved = sys.modules.get("common")
    sys.modules["common"] = common
    try:
        detector = _load(directory / "two_stage_detector.py", "two_stage_detector")
    finally:
        if saved is None:
            sys.modules.pop("common", None)
        else:
            sys.modules["common"] = saved
    names = {**vars(common), **vars(detector)}
    return SimpleNamespace(
        common=common,
        two_stage_detector=detector,
        **{k: v for k, v in names.items() if not k.startswith("__")},
    )
