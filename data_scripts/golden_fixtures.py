"""
Regenerate the autograder's golden fixtures from the reference solution.

    python -m data_scripts.golden_fixtures            # rewrite autograder/fixtures/
    python -m data_scripts.golden_fixtures --check    # verify the committed ones

Each golden case (autograder/units/golden_cases.py) is a probe call; the reference
answers it through the same sandbox that runs students' code, and the reply
is stored with the case's inputs in `autograder/fixtures/golden.agv` (the
sandbox's pickle-free format) with a manifest: what, seed, shapes, sha256,
torch and torchvision versions. Goldens change only through this command.

`--check` compares by meaning, not by bits, so that it passes on any CPU
(other SIMD kernels round float32 differently: up to a few units in the last
place of the values an output was computed from):

* integer, boolean and index outputs, shapes, dtypes and plain values: exact;
* a floating tensor ``expected`` of dtype ``d``: every element of ``actual``
  must satisfy ``|actual - expected| <= GOLDEN_ULPS * eps(d) * (|expected| + m)``
  where ``m`` is the median of ``|expected|`` over the tensor: the rounding of
  a value is relative to the magnitudes it was computed from (a box corner
  near 0 is ``center - size / 2`` of two large numbers), which the tensor's
  typical magnitude stands for. For float32 that is about 2e-6 relative: a
  1e-3 or 0.01 change of the reference is reported, a CPU's rounding is not
  (docs/staff.md, "Data and golden fixtures").
"""
import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
import torchvision

from autograder.sandbox import safe_transfer
from autograder.units.golden_cases import GOLDEN_SEED, golden_cases
from autograder.units.golden_records import FIXTURES_DIR, GOLDEN_FILE, MANIFEST_FILE, REGENERATE_COMMAND, load_golden
from autograder.course.reference_solution import REFERENCE_DIR, load_reference
from autograder.sandbox.client import Sandbox
from autograder.intake.submission import normalize_submission

COMMAND = REGENERATE_COMMAND
# Units of rounding allowed, relative to the magnitude (see the docstring).
# Other CPUs' kernels differed by at most 1 unit of the tensor's median
# magnitude (ATEN_CPU_CAPABILITY=default, avx2, AVX-512): 16 leaves a 16x
# margin, and a relative change of 1e-3 is still 500 times the tolerance.
GOLDEN_ULPS = 16


def _shapes(tree):
    if isinstance(tree, torch.Tensor):
        return list(tree.shape)
    if isinstance(tree, dict):
        return {str(k): _shapes(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_shapes(v) for v in tree]
    return type(tree).__name__


def generate() -> tuple[bytes, dict]:
    """The golden file's bytes and its manifest, from the reference."""
    cases = golden_cases(load_reference())
    records = []
    with tempfile.TemporaryDirectory() as workdir:
        submission = normalize_submission(REFERENCE_DIR, Path(workdir))
        with Sandbox(submission.root) as sandbox:
            for case in cases:
                reply = sandbox.call(case.probe, **case.kwargs)
                records.append({"definition": case.definition, "name": case.name,
                                "expected": reply[case.reply_key]})
    payload = safe_transfer.encode(records)
    manifest = {
        "generated_by": COMMAND,
        "seed": GOLDEN_SEED,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "file": GOLDEN_FILE,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "cases": [{"definition": r["definition"], "name": r["name"], "shapes": _shapes(r["expected"])}
                  for r in records],
    }
    return payload, manifest


def float_tolerance(expected: torch.Tensor) -> torch.Tensor:
    """Per-element tolerance for a floating ``expected`` tensor (module docstring).

    Args:
        expected (Tensor[*]): a floating tensor, possibly empty.

    Returns:
        Tensor[*] (float64): the largest allowed ``|actual - expected|``.
    """
    magnitude = expected.double().abs()  # [*]
    finite = magnitude[torch.isfinite(magnitude)]
    typical = finite.median() if finite.numel() else torch.tensor(0.0, dtype=torch.float64)
    return GOLDEN_ULPS * torch.finfo(expected.dtype).eps * (magnitude + typical)


def _tensor_difference(stored: torch.Tensor, fresh: torch.Tensor) -> str | None:
    if stored.shape != fresh.shape or stored.dtype != fresh.dtype:
        return f"{tuple(stored.shape)} {stored.dtype} vs {tuple(fresh.shape)} {fresh.dtype}"
    if not stored.dtype.is_floating_point:
        return None if torch.equal(stored, fresh) else "values differ (compared exactly: not a float tensor)"
    stored64, fresh64 = stored.double(), fresh.double()
    tolerance = float_tolerance(stored)
    error = (stored64 - fresh64).abs()
    # Equal infinities (whose difference is nan) and nan where nan was stored are equal.
    within = (error <= tolerance) | (stored64 == fresh64) | (torch.isnan(stored64) & torch.isnan(fresh64))
    if bool(within.all()):
        return None
    worst = int(torch.argmax(torch.where(within, -1.0, error.nan_to_num(float("inf")))))
    return (f"values differ by up to {error[~within].max():.3g} (element {worst}: {stored.flatten()[worst]:.9g} "
            f"vs {fresh.flatten()[worst]:.9g}, tolerance {tolerance.flatten()[worst]:.3g})")


def _differences(stored, fresh, path="") -> list:
    if isinstance(stored, torch.Tensor) and isinstance(fresh, torch.Tensor):
        difference = _tensor_difference(stored, fresh)
        return [] if difference is None else [f"{path}: {difference}"]
    if isinstance(stored, dict) and isinstance(fresh, dict) and stored.keys() == fresh.keys():
        return [d for k in stored for d in _differences(stored[k], fresh[k], f"{path}[{k!r}]")]
    if isinstance(stored, (list, tuple)) and isinstance(fresh, (list, tuple)) and len(stored) == len(fresh):
        return [d for i, (a, b) in enumerate(zip(stored, fresh)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if stored == fresh else [f"{path}: {stored!r:.60} vs {fresh!r:.60}"]


def check(fixtures_dir: Path = FIXTURES_DIR, generated: bytes | None = None) -> list:
    """Problems with the committed goldens (empty when they are current).

    ``generated`` is ``generate()``'s payload when the caller already has it.
    """
    try:
        stored = load_golden(fixtures_dir)
    except (OSError, ValueError, KeyError) as error:
        return [str(error)]
    fresh = safe_transfer.decode(generated if generated is not None else generate()[0])
    stored_names = [(r["definition"], r["name"]) for r in stored]
    fresh_names = [(r["definition"], r["name"]) for r in fresh]
    if stored_names != fresh_names:
        return [f"the cases differ: committed {stored_names}, generated {fresh_names}"]
    return [f"{r['definition']}/{r['name']}{d}" for r, f in zip(stored, fresh)
            for d in _differences(_in_canonical_order(r), _in_canonical_order(f))]


def _in_canonical_order(record: dict):
    """The record's answer; detections (boxes, classes, scores) sorted by class and box, since their
    order among near-equal scores follows the CPU's rounding (as the graded test, which compares row sets)."""
    if record["definition"] != "FasterRCNN":
        return record["expected"]
    boxes, classes, scores = record["expected"]  # [N, 4], [N], [N]
    keys = [(int(c), *(round(float(v), 2) for v in box)) for box, c in zip(boxes, classes)]
    order = torch.tensor(sorted(range(len(keys)), key=keys.__getitem__), dtype=torch.long)
    return boxes[order], classes[order], scores[order]


def write(fixtures_dir: Path = FIXTURES_DIR) -> None:
    payload, manifest = generate()
    fixtures_dir.mkdir(parents=True, exist_ok=True)
    (fixtures_dir / GOLDEN_FILE).write_bytes(payload)
    (fixtures_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(manifest['cases'])} golden cases to {fixtures_dir} ({len(payload) / 1024:.0f} KiB)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed goldens; write nothing")
    parser.add_argument("--dir", type=Path, default=FIXTURES_DIR, help="fixtures directory")
    args = parser.parse_args(argv)
    if not args.check:
        write(args.dir)
        return 0
    problems = check(args.dir)
    for problem in problems:
        print(f"golden fixtures out of date: {problem}", file=sys.stderr)
    if problems:
        print(f"regenerate them with `{COMMAND}` (after checking that the reference change is intended)",
              file=sys.stderr)
        return 1
    print("golden fixtures are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
