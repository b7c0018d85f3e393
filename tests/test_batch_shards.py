"""``batch --shard K/N`` and ``merge``: three shards merged give the single run's gradebook, byte for byte.

The graded class is small and cheap (``--units-only``): the reference, a
broken zip and the student stubs, one per shard.  The merge checks (missing,
repeated or foreign shards) run on committed gradings written directly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.batch.records import GRADED, TIMEOUT, GradingRecord, commit_grading, start_grading
from autograder.batch.shards import MANIFEST_FILE, Shard, ShardError, merge_shards, parse_shard, write_manifest
from autograder.batch.gradebook import GRADEBOOK_FILE, NOT_GRADED, write_class_gradebook
from autograder.results.document import TestResult, results_document
from tests.test_batch import REFERENCE_DIR, STUBS_DIR, copy_folder, run_batch

REPOSITORY = Path(__file__).resolve().parent.parent
SHARDS = 3


def merge(*shard_dirs: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "merge", *map(str, shard_dirs), "--out", str(out)],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------- graded end to end
@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sharded")
    submissions = root / "submissions"
    submissions.mkdir()
    copy_folder(submissions / "ada", REFERENCE_DIR)
    (submissions / "bob.zip").write_bytes(b"PK\x03\x04 not really a zip")
    copy_folder(submissions / "cy", STUBS_DIR)
    single = run_batch(submissions, root / "single", "--units-only", "--jobs", "2")
    shards = [run_batch(submissions, root / f"shard{index}", "--units-only", "--jobs", "1",
                        "--shard", f"{index}/{SHARDS}") for index in range(1, SHARDS + 1)]
    merged = merge(*(root / f"shard{index}" for index in range(1, SHARDS + 1)), out=root / "merged")
    return {"root": root, "single": single, "shards": shards, "merged": merged}


def test_three_shards_merged_give_the_single_runs_gradebook_byte_for_byte(graded_class):
    root = graded_class["root"]
    assert graded_class["single"]["status"] == 0, graded_class["single"]["stderr"][-3000:]
    assert [run["status"] for run in graded_class["shards"]] == [0] * SHARDS
    assert graded_class["merged"].returncode == 0, graded_class["merged"].stderr
    single = (root / "single" / GRADEBOOK_FILE).read_bytes()
    assert (root / "merged" / GRADEBOOK_FILE).read_bytes() == single
    assert single.count(b"\n") == 4 and b"\nada," in single  # a header and three students: not vacuous


def test_each_shard_grades_only_its_share(graded_class):
    root = graded_class["root"]
    shares = []
    for index, run in enumerate(graded_class["shards"], start=1):
        manifest = json.loads((root / f"shard{index}" / MANIFEST_FILE).read_text())
        graded = sorted(path.name for path in (root / f"shard{index}").iterdir() if path.is_dir())
        assert graded == manifest["graded"], index
        assert f"(shard {index}/{SHARDS})" in run["stdout"]
        shares += graded
    assert sorted(shares) == ["ada", "bob", "cy"]
    for key in shares:
        merged, single = (json.loads((root / run / key / "results.json").read_text()) for run in ("merged", "single"))
        assert [(test["name"], test["score"]) for test in merged["tests"]] == \
               [(test["name"], test["score"]) for test in single["tests"]], key


# ----------------------------------------------------- merge, no grading
def _document(score: float) -> dict:
    test = TestResult(name="iou: one box", max_score=2.0, fraction=score / 2.0, passed=score == 2.0)
    return results_document([test], "graded", 1.0)


def _commit(directory: Path, key: str) -> None:
    """A committed grading of ``key`` with a score that depends on the id (``dan`` timed out)."""
    start_grading(directory)
    commit_grading(directory, GradingRecord(key, "sha", TIMEOUT if key == "dan" else GRADED, 0, 1.0), None,
                   _document(float(len(key) % 3)))


def _fake_shards(root: Path, ids: list[str], count: int, skip: tuple[str, ...] = ()) -> list[Path]:
    """``count`` shard folders as `batch --shard` would leave them; ``skip``: ids left without a grading."""
    folders = []
    for index in range(1, count + 1):
        shard = Shard(index, count)
        folder = root / f"out{index}"
        folder.mkdir(parents=True)
        share = shard.select(ids)
        write_manifest(folder, shard, ids, share)
        for key in share:
            if key not in skip:
                _commit(folder / key, key)
        folders.append(folder)
    return folders


IDS = ["ann", "bo", "cal", "dan", "eve", "fay", "gus"]


def test_merge_reproduces_a_gradebook_written_in_one_folder(tmp_path):
    folders = _fake_shards(tmp_path / "shards", IDS, 3)
    single = tmp_path / "single"
    for key in IDS:
        _commit(single / key, key)
    write_class_gradebook(single, IDS)

    completed = merge(*reversed(folders), out=tmp_path / "merged")

    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "merged" / GRADEBOOK_FILE).read_bytes() == (single / GRADEBOOK_FILE).read_bytes()
    assert sorted(path.name for path in (tmp_path / "merged").iterdir() if path.is_dir()) == IDS


def test_merge_refuses_missing_repeated_and_foreign_shards(tmp_path):
    folders = _fake_shards(tmp_path / "a", IDS, 3)
    other_class = _fake_shards(tmp_path / "b", IDS + ["hal"], 3)

    with pytest.raises(ShardError, match=r"missing shard\(s\) 2/3"):
        merge_shards([folders[0], folders[2]], tmp_path / "m1")
    with pytest.raises(ShardError, match="more than once"):
        merge_shards([folders[0], folders[1], folders[2], folders[1]], tmp_path / "m2")
    with pytest.raises(ShardError, match="different submissions folders.*hal"):
        merge_shards([folders[0], other_class[1], folders[2]], tmp_path / "m3")
    with pytest.raises(ShardError, match="no shard.json"):
        merge_shards([tmp_path / "a"], tmp_path / "m4")
    (folders[1] / MANIFEST_FILE).write_text("{not json")
    completed = merge(*folders, out=tmp_path / "m5")
    assert completed.returncode == 2 and f"{folders[1] / MANIFEST_FILE}: unreadable shard manifest" in completed.stderr


def test_merge_reports_submissions_without_a_grading(tmp_path):
    folders = _fake_shards(tmp_path / "shards", IDS, 2, skip=("eve",))

    completed = merge(*folders, out=tmp_path / "merged")

    assert completed.returncode == 2 and "no committed grading for eve" in completed.stderr
    rows = (tmp_path / "merged" / GRADEBOOK_FILE).read_text().splitlines()
    assert [row.split(",")[3] for row in rows if row.startswith("eve,")] == [NOT_GRADED]


def test_shards_split_round_robin_and_parse_strictly():
    assert [Shard(index, 3).select(IDS) for index in (1, 2, 3)] == [
        ["ann", "dan", "gus"], ["bo", "eve"], ["cal", "fay"]]
    assert Shard(5, 5).select(["a", "b"]) == []
    assert parse_shard("2/3") == Shard(2, 3)
    for text in ("0/3", "4/3", "3", "a/b", "1/0", "-1/2"):
        with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
            parse_shard(text)
