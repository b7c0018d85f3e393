"""
Regenerate the autograder's golden fixtures from the reference solution.

    python -m data_scripts.golden_fixtures            # rewrite autograder/fixtures/
    python -m data_scripts.golden_fixtures --check    # verify the committed ones

Each golden case (autograder/golden_cases.py) is a probe call; the reference
answers it through the same sandbox that runs students' code, and the reply
is stored with the case's inputs in `autograder/fixtures/golden.agv` (the
sandbox's pickle-free format) with a manifest: what, seed, shapes, sha256,
torch and torchvision versions. Goldens change only through this command.
"""
import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
import torchvision

from autograder import safe_transfer
from autograder.golden_cases import GOLDEN_SEED, golden_cases
from autograder.reference_solution import REFERENCE_DIR, load_reference
from autograder.sandbox import Sandbox
from autograder.submission import normalize_submission

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "autograder" / "fixtures"
GOLDEN_FILE = "golden.agv"
MANIFEST_FILE = "MANIFEST.json"
COMMAND = "python -m data_scripts.golden_fixtures"
CHECK_ATOL = 1e-6


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


def load_golden(fixtures_dir: Path = FIXTURES_DIR) -> list:
    """The stored records, after checking the file against its manifest."""
    manifest = json.loads((fixtures_dir / MANIFEST_FILE).read_text())
    payload = (fixtures_dir / manifest["file"]).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest["sha256"]:
        raise ValueError(f"{fixtures_dir / manifest['file']}: sha256 {digest} does not match the manifest "
                         f"({manifest['sha256']}); regenerate with `{COMMAND}`")
    return safe_transfer.decode(payload)


def _differences(stored, fresh, path="") -> list:
    if isinstance(stored, torch.Tensor) and isinstance(fresh, torch.Tensor):
        if stored.shape != fresh.shape or stored.dtype != fresh.dtype:
            return [f"{path}: {tuple(stored.shape)} {stored.dtype} vs {tuple(fresh.shape)} {fresh.dtype}"]
        if not torch.allclose(stored.double(), fresh.double(), atol=CHECK_ATOL, rtol=0, equal_nan=True):
            return [f"{path}: values differ by up to {(stored.double() - fresh.double()).abs().max():.3g}"]
        return []
    if isinstance(stored, dict) and isinstance(fresh, dict) and stored.keys() == fresh.keys():
        return [d for k in stored for d in _differences(stored[k], fresh[k], f"{path}[{k!r}]")]
    if isinstance(stored, (list, tuple)) and isinstance(fresh, (list, tuple)) and len(stored) == len(fresh):
        return [d for i, (a, b) in enumerate(zip(stored, fresh)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if stored == fresh else [f"{path}: {stored!r:.60} vs {fresh!r:.60}"]


def check(fixtures_dir: Path = FIXTURES_DIR) -> list:
    """Problems with the committed goldens (empty when they are current)."""
    try:
        stored = load_golden(fixtures_dir)
    except (OSError, ValueError, KeyError) as error:
        return [str(error)]
    payload, manifest = generate()
    fresh = safe_transfer.decode(payload)
    stored_names = [(r["definition"], r["name"]) for r in stored]
    fresh_names = [(r["definition"], r["name"]) for r in fresh]
    if stored_names != fresh_names:
        return [f"the cases differ: committed {stored_names}, generated {fresh_names}"]
    return [f"{r['definition']}/{r['name']}{d}" for r, f in zip(stored, fresh)
            for d in _differences(r["expected"], f["expected"])]


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
