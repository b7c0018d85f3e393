"""The golden fixtures are current, and doctored ones are caught."""
import hashlib
import json
import shutil

from autograder import safe_transfer
from data_scripts import golden_fixtures


def test_committed_goldens_are_current():
    assert golden_fixtures.check() == []


def test_a_tampered_golden_file_fails_its_checksum(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(golden_fixtures.FIXTURES_DIR, fixtures)
    path = fixtures / golden_fixtures.GOLDEN_FILE
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    problems = golden_fixtures.check(fixtures)
    assert len(problems) == 1 and "sha256" in problems[0] and golden_fixtures.COMMAND in problems[0]


def test_a_consistent_but_wrong_golden_value_is_reported(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(golden_fixtures.FIXTURES_DIR, fixtures)
    records = golden_fixtures.load_golden(fixtures)
    iou_record = next(r for r in records if r["definition"] == "iou")
    iou_record["expected"] = iou_record["expected"] + 0.01  # e.g. a reference edit not meant to happen
    payload = safe_transfer.encode(records)
    (fixtures / golden_fixtures.GOLDEN_FILE).write_bytes(payload)
    manifest = json.loads((fixtures / golden_fixtures.MANIFEST_FILE).read_text())
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()
    (fixtures / golden_fixtures.MANIFEST_FILE).write_text(json.dumps(manifest))
    problems = golden_fixtures.check(fixtures)
    assert problems and all(p.startswith("iou/random_7x11") for p in problems), problems


def test_goldens_are_small():
    total = sum(p.stat().st_size for p in golden_fixtures.FIXTURES_DIR.iterdir())
    assert total < 1_000_000, f"golden fixtures take {total} bytes"
