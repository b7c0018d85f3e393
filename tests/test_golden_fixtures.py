"""The golden fixtures are current on any CPU, and doctored ones are caught."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from autograder.sandbox import safe_transfer
from data_scripts import golden_fixtures
from data_scripts.golden_fixtures import GOLDEN_ULPS, float_tolerance

REPOSITORY = golden_fixtures.FIXTURES_DIR.parent.parent
FLOAT32_ULP_AT_ONE = torch.finfo(torch.float32).eps


@pytest.fixture(scope="module")
def generated() -> bytes:
    """The reference's answers on this machine (generating takes about 15 CPU s)."""
    return golden_fixtures.generate()[0]


def test_committed_goldens_are_current(generated):
    assert golden_fixtures.check(generated=generated) == []


# Other CPU kernels: the closest stand-ins for another machine that one machine has.
@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_committed_goldens_are_current_with_other_cpu_kernels(capability):
    environment = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    check = subprocess.run([sys.executable, "-m", "data_scripts.golden_fixtures", "--check"], cwd=REPOSITORY,
                           env=environment, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stderr


def test_tolerance_is_relative_to_the_element_and_the_tensors_median_magnitude():
    expected = torch.tensor([2.0, 60.0, 100.0, -1e8])  # median |x| = 80 (torch's lower median of 4 values)
    assert torch.equal(float_tolerance(expected),
                       GOLDEN_ULPS * FLOAT32_ULP_AT_ONE * (expected.double().abs() + 60.0))
    assert float_tolerance(torch.tensor([1.0], dtype=torch.float64)).item() == GOLDEN_ULPS * 2.0 ** -52 * 2
    assert float_tolerance(torch.empty(0)).shape == (0,)


@pytest.mark.parametrize("fresh, reported", [
    # seen under ATEN_CPU_CAPABILITY=default: 64 units at 2.0, one unit of the box's other coordinates
    ([128.0, 2.0 + 64 * 2.0 ** -22, 100.0], False),
    ([128.0, 2.0 + 1e-3, 100.0], True),
    ([128.0 * (1 + 1e-3), 2.0, 100.0], True),
    ([128.0, 2.0, float("nan")], True),
])
def test_float_differences(fresh, reported):
    stored = torch.tensor([128.0, 2.0, 100.0])
    assert (golden_fixtures._differences(stored, torch.tensor(fresh)) != []) == reported


def test_integers_dtypes_nan_and_infinities_compare_exactly():
    assert golden_fixtures._differences(torch.tensor([1, 2]), torch.tensor([1, 3])) != []
    assert golden_fixtures._differences(torch.tensor([1, 2]), torch.tensor([1.0, 2.0])) != []
    assert golden_fixtures._differences(torch.tensor([True]), torch.tensor([False])) != []
    special = torch.tensor([float("nan"), float("inf"), -float("inf")])
    assert golden_fixtures._differences(special, special.clone()) == []
    assert golden_fixtures._differences(special, special.flip(0)) != []


def test_a_tampered_golden_file_fails_its_checksum(tmp_path, generated):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(golden_fixtures.FIXTURES_DIR, fixtures)
    path = fixtures / golden_fixtures.GOLDEN_FILE
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    problems = golden_fixtures.check(fixtures, generated)
    assert len(problems) == 1 and "sha256" in problems[0] and golden_fixtures.COMMAND in problems[0]


def _shifted(tree, change):
    if isinstance(tree, torch.Tensor):
        return tree + change if tree.dtype.is_floating_point else tree
    if isinstance(tree, dict):
        return {key: _shifted(value, change) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_shifted(value, change) for value in tree)
    return tree


# e.g. a reference edit not meant to happen, on small values and on the largest ones (boxes up to 352)
@pytest.mark.parametrize("definition, name, change", [
    ("iou", "random_7x11", 0.01),
    ("iou", "random_7x11", 1e-3),
    ("rcnn_apply_deltas_to_anchors", "random", 1e-3),
    ("RPN", "proposals", 1e-3),
])
def test_a_consistent_but_wrong_golden_value_is_reported(tmp_path, generated, definition, name, change):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(golden_fixtures.FIXTURES_DIR, fixtures)
    records = golden_fixtures.load_golden(fixtures)
    record = next(r for r in records if (r["definition"], r["name"]) == (definition, name))
    record["expected"] = _shifted(record["expected"], change)
    payload = safe_transfer.encode(records)
    (fixtures / golden_fixtures.GOLDEN_FILE).write_bytes(payload)
    manifest = json.loads((fixtures / golden_fixtures.MANIFEST_FILE).read_text())
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()
    (fixtures / golden_fixtures.MANIFEST_FILE).write_text(json.dumps(manifest))
    problems = golden_fixtures.check(fixtures, generated)
    assert problems and all(p.startswith(f"{definition}/{name}") for p in problems), problems


def test_goldens_are_small():
    total = sum(p.stat().st_size for p in golden_fixtures.FIXTURES_DIR.iterdir())
    assert total < 1_000_000, f"golden fixtures take {total} bytes"
