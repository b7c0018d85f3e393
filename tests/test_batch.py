"""``python -m autograder batch``: a small class graded end to end, resuming, regrading, interrupting.

The class: the reference as a folder, the solution notebook, the student
stubs, a broken zip and a submission that hangs at import (every sandbox
call would time out: the grading is killed at the batch's per-submission
cap).  Gradings are ``--units-only`` (the batch does not depend on stages).
Each batch runs under a child subreaper, so that any process a grading
leaves behind is found (there must be none).

Slow and opt-in: ``BATCH_20=1`` grades 20+ mixed submissions (good, buggy,
malicious, hanging) with ``--jobs 2`` and prints the batch's own summary
(wall time, submissions per hour).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from autograder.batch.records import (
    GRADED,
    GRADER_FAILED,
    TIMEOUT,
    GradingRecord,
    commit_grading,
    is_done,
    read_grading,
    start_grading,
)
from autograder.batch.submissions import BatchInputError, find_submissions, upload_fingerprint
from autograder.batch.gradebook import FIXED_COLUMNS, GradebookEntry, format_score, gradebook_rows
from autograder.results.document import results_document
from autograder.results.schema import load_results

REPOSITORY = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPOSITORY / "reference"
STUBS_DIR = REPOSITORY / "student"
SUBMISSION_FILES = ("common.py", "two_stage_detector.py")
# Above a unit grading's wall time on a busy two-core machine (about 20-40 s with
# two at a time), far below a hanging submission's (every call times out).
CAP_S = 90
BATCH_TIMEOUT_S = 1200  # of a whole batch subprocess, a safety net for the test run
INTERRUPT_AFTER_LOG_TIMEOUT_S = 120
HANG_AT_IMPORT = "while True:  # this submission never finishes importing\n    pass\n"

# Runs a command as a child subreaper and reports what it left behind, as JSON on the last line.
SUBREAPER_RUNNER = textwrap.dedent("""\
    import json, os, signal, subprocess, sys, time
    from autograder.sandbox.process_control import (become_child_subreaper, descendant_pids, kill_descendants,
                                                    reap_children)
    become_child_subreaper()
    command, interrupt_when = json.loads(sys.argv[1]), sys.argv[2]
    process = subprocess.Popen(command)
    if interrupt_when:
        deadline = time.monotonic() + float(sys.argv[3])
        while not (os.path.exists(interrupt_when) and os.path.getsize(interrupt_when) > 0):
            if time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
    status = process.wait()
    time.sleep(1.0)
    reap_children()
    leftover = sorted(descendant_pids(os.getpid()))
    kill_descendants(os.getpid())
    print(json.dumps({"status": status, "leftover": leftover}))
""")


# ----------------------------------------------------------------- helpers
def copy_folder(target: Path, source: Path, **replace: str) -> Path:
    """``target`` with the two submission files of ``source``; ``replace`` maps file → new text."""
    target.mkdir(parents=True)
    for name in SUBMISSION_FILES:
        (target / name).write_text(replace.get(name.replace(".py", ""), (source / name).read_text()))
    return target


def zip_folder(target: Path, source: Path, folder: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for name in SUBMISSION_FILES:
            archive.write(source / name, f"{folder}/{name}" if folder else name)
    return target


def solution_notebook(target: Path) -> Path:
    from data_scripts.release import release_paths
    from data_scripts.release.pipeline import run_pipeline

    target.write_bytes(run_pipeline(REPOSITORY).build[release_paths.SOLUTION_NOTEBOOK])
    return target


def hanging_folder(target: Path) -> Path:
    detector = HANG_AT_IMPORT + (REFERENCE_DIR / "two_stage_detector.py").read_text()
    return copy_folder(target, REFERENCE_DIR, two_stage_detector=detector)


def run_batch(submissions: Path, out: Path, *options: str, interrupt_when: Path | None = None) -> dict:
    """Run the batch command under a subreaper: exit status, leftover pids, printed text."""
    command = [sys.executable, "-m", "autograder", "batch", str(submissions), "--out", str(out), *options]
    completed = subprocess.run(
        [sys.executable, "-c", SUBREAPER_RUNNER, json.dumps(command), str(interrupt_when or ""),
         str(INTERRUPT_AFTER_LOG_TIMEOUT_S)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return {**report, "stdout": completed.stdout, "stderr": completed.stderr}


def read_gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every committed file: modification time and bytes."""
    return {str(path.relative_to(out)): (path.stat().st_mtime_ns, path.read_bytes())
            for path in sorted(out.rglob("*")) if path.is_file()}


def max_score(document: dict) -> float:
    return sum(test["max_score"] for test in document["tests"])


# ------------------------------------------------------------ a small class
@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    submissions.mkdir()
    copy_folder(submissions / "ada", REFERENCE_DIR)
    (submissions / "bob.zip").write_bytes(b"PK\x03\x04 not really a zip")
    copy_folder(submissions / "cy", STUBS_DIR)
    hanging_folder(submissions / "dee")
    solution_notebook(submissions / "eve.ipynb")
    (submissions / ".DS_Store").write_bytes(b"\0")
    return submissions, root / "out"


@pytest.fixture(scope="module")
def first_run(small_class) -> dict:
    submissions, out = small_class
    return run_batch(submissions, out, "--units-only", "--jobs", "2", "--timeout", str(CAP_S))


def test_batch_completes_and_leaves_no_process_behind(first_run):
    assert first_run["status"] == 0, first_run["stderr"][-3000:]
    assert first_run["leftover"] == []
    assert "5 submissions" in first_run["stdout"]
    assert "4 graded, 1 timeout" in first_run["stdout"]


def test_every_submission_has_a_valid_results_file(first_run, small_class):
    _, out = small_class
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == ["ada", "bob", "cy", "dee", "eve"]
    for student in ("ada", "bob", "cy", "dee", "eve"):
        load_results(out / student / "results.json")
        assert not (out / student / ".grading").exists()


def test_gradebook_has_one_correct_row_per_submission(first_run, small_class):
    _, out = small_class
    rows = read_gradebook(out)
    full = load_results(out / "ada" / "results.json")
    possible = max_score(full)

    assert [row["submission"] for row in rows] == ["ada", "bob", "cy", "dee", "eve"]
    assert list(rows[0])[: len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    assert list(rows[0])[len(FIXED_COLUMNS):] == [test["name"] for test in full["tests"]]
    statuses = {row["submission"]: row["status"] for row in rows}
    assert statuses == {"ada": GRADED, "bob": GRADED, "cy": GRADED, "dee": TIMEOUT, "eve": GRADED}
    scores = {row["submission"]: float(row["score"]) for row in rows}
    assert scores == {"ada": possible, "bob": 0, "cy": 0, "dee": 0, "eve": possible}
    assert all(float(row["max_score"]) == possible for row in rows)
    for row in rows:
        cells = [row[test["name"]] for test in full["tests"]]
        if row["status"] == TIMEOUT:
            assert cells == [""] * len(cells)
        else:
            assert sum(float(cell) for cell in cells) == pytest.approx(float(row["score"]))


def test_hanging_submission_is_stopped_at_the_cap_with_a_clear_message(first_run, small_class):
    _, out = small_class
    results = load_results(out / "dee" / "results.json")
    record = json.loads((out / "dee" / "grading.json").read_text())

    assert results["score"] == 0 and results["tests"] == []
    assert f"stopped after {CAP_S} s, the time limit for one submission" in results["output"]
    assert record["status"] == TIMEOUT and record["exit_status"] is None
    assert record["wall_s"] >= CAP_S
    assert f"dee: {TIMEOUT}" in first_run["stderr"]


def test_broken_zip_and_stubs_explain_their_zero(first_run, small_class):
    _, out = small_class
    assert "not a valid zip file" in load_results(out / "bob" / "results.json")["output"]
    stub_outputs = [test["output"] for test in load_results(out / "cy" / "results.json")["tests"]]
    assert any("not implemented" in output.lower() for output in stub_outputs)


def test_resuming_skips_every_graded_submission(first_run, small_class):
    submissions, out = small_class
    before = snapshot(out)

    again = run_batch(submissions, out, "--units-only", "--jobs", "2", "--timeout", str(CAP_S))

    assert again["status"] == 0, again["stderr"][-3000:]
    assert "5 already graded, skipped" in again["stdout"] and "0 to grade" in again["stdout"]
    after = snapshot(out)
    assert {name: value for name, value in after.items() if name != "gradebook.csv"} == \
           {name: value for name, value in before.items() if name != "gradebook.csv"}
    assert after["gradebook.csv"][1] == before["gradebook.csv"][1]  # rewritten, byte for byte the same


# ------------------------------------------------ regrading and replaced uploads
@pytest.fixture
def one_zip(tmp_path) -> tuple[Path, Path]:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "zed.zip").write_bytes(b"PK\x03\x04 broken, version 1")
    return submissions, tmp_path / "out"


def test_regrade_and_a_replaced_upload_are_graded_again(one_zip):
    submissions, out = one_zip
    first = run_batch(submissions, out, "--units-only")
    record = json.loads((out / "zed" / "grading.json").read_text())

    skipped = run_batch(submissions, out, "--units-only")
    (submissions / "zed.zip").write_bytes(b"PK\x03\x04 broken, version 2")
    replaced = run_batch(submissions, out, "--units-only")
    record_after_replace = json.loads((out / "zed" / "grading.json").read_text())
    log_before_regrade = (out / "zed" / "grading.log").stat().st_mtime_ns
    regraded = run_batch(submissions, out, "--units-only", "--regrade")

    assert [run["status"] for run in (first, skipped, replaced, regraded)] == [0, 0, 0, 0]
    assert "1 already graded" in skipped["stdout"]
    assert "1 to grade" in replaced["stdout"] and "1 graded" in replaced["stdout"]
    assert record_after_replace["upload_sha256"] != record["upload_sha256"]
    assert "1 to grade" in regraded["stdout"] and "1 graded" in regraded["stdout"]
    assert (out / "zed" / "grading.log").stat().st_mtime_ns > log_before_regrade
    assert read_gradebook(out)[0]["status"] == GRADED


def test_interrupted_batch_keeps_nothing_half_done_and_kills_its_gradings(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    hanging_folder(submissions / "hal")
    out = tmp_path / "out"

    interrupted = run_batch(submissions, out, "--units-only", "--timeout", "600",
                            interrupt_when=out / "hal" / "grading.log")

    assert interrupted["status"] == 130
    assert interrupted["leftover"] == []
    assert "interrupted" in interrupted["stderr"]
    assert not (out / "hal" / "results.json").exists() and not (out / "hal" / ".grading").exists()
    assert not (out / "gradebook.csv").exists()


def test_unusable_submissions_directory_fails_with_a_message(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "ann").mkdir(parents=True)
    (submissions / "ann.zip").write_bytes(b"")

    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", str(submissions), "--out", str(tmp_path / "out")],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )

    assert completed.returncode == 2
    assert "several entries for one student id" in completed.stderr and "ann.zip" in completed.stderr


# ------------------------------------------------------- pieces, no grading
def test_submission_ids_and_entries(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "Bea.ZIP").write_bytes(b"")
    (tmp_path / "cal.ipynb").write_text("{}")
    (tmp_path / "dan.py").write_text("")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "out").mkdir()

    found = find_submissions(tmp_path, exclude=(tmp_path / "out",))

    assert [(entry.id, entry.path.name) for entry in found] == [
        ("Bea", "Bea.ZIP"), ("ann", "ann"), ("cal", "cal.ipynb"), ("dan.py", "dan.py")]
    with pytest.raises(BatchInputError, match="not a directory"):
        find_submissions(tmp_path / "missing")


def test_upload_fingerprint_follows_content_not_time(tmp_path):
    folder = copy_folder(tmp_path / "sub", REFERENCE_DIR)
    first = upload_fingerprint(folder)
    os.utime(folder / "common.py", (0, 0))
    assert upload_fingerprint(folder) == first
    (folder / "common.py").write_text("changed")
    assert upload_fingerprint(folder) != first
    os.mkfifo(folder / "pipe")  # never opened: reading a FIFO would block
    assert upload_fingerprint(folder) != first


def test_a_grading_is_done_only_when_committed_final_and_unchanged(tmp_path):
    directory = tmp_path / "ann"
    document = results_document([], "fine", 1.0)

    start_grading(directory)
    assert not is_done(directory, "abc")
    commit_grading(directory, GradingRecord("ann", "abc", GRADED, 0, 1.0), None, document)
    assert is_done(directory, "abc") and not is_done(directory, "other upload")
    start_grading(directory)  # a new grading drops the commit point first
    assert read_grading(directory) is None
    commit_grading(directory, GradingRecord("ann", "abc", GRADER_FAILED, 2, 1.0), None, document)
    assert read_grading(directory).record.status == GRADER_FAILED and not is_done(directory, "abc")
    (directory / "results.json").write_text('{"score": "half"}')
    assert read_grading(directory) is None


def test_gradebook_rows_are_deterministic_and_complete():
    def doc(*tests):
        return {"score": sum(score for _, score, _ in tests), "tests": [
            {"name": name, "score": score, "max_score": top} for name, score, top in tests]}

    entries = [
        GradebookEntry("zoe", GRADED, doc(("a", 1, 1), ("b", 0.5, 2), ("b", 1 / 3, 1))),
        GradebookEntry("amy", TIMEOUT, {"score": 0, "tests": []}),
        GradebookEntry("max", GRADED, doc(("a", 0, 1), ("c", 2, 2))),
        GradebookEntry("kim", "not-graded", None),
    ]

    rows = gradebook_rows(entries)

    assert rows == [
        ["submission", "score", "max_score", "status", "a", "b", "b #2", "c"],
        ["amy", "0", "4", TIMEOUT, "", "", "", ""],
        ["kim", "", "4", "not-graded", "", "", "", ""],
        ["max", "2", "3", GRADED, "0", "", "", "2"],
        ["zoe", "1.8333", "4", GRADED, "1", "0.5", "0.3333", ""],
    ]
    assert gradebook_rows(list(reversed(entries))) == rows
    assert [format_score(value) for value in (91.0, 0.0, -0.0, 2.5, 1e-9)] == ["91", "0", "0", "2.5", "0"]


# ------------------------------------------- BATCH_20=1: a mixed class of 21
def mixed_class(submissions: Path) -> dict[str, str]:
    """21 submissions; returns id → kind (good, stubs, broken, partial, buggy, malicious, hanging)."""
    reference = {name: (REFERENCE_DIR / name).read_text() for name in SUBMISSION_FILES}
    common, detector = reference["common.py"], reference["two_stage_detector.py"]
    kinds = {}

    def folder(name: str, kind: str, common_text: str = common, detector_text: str = detector) -> None:
        copy_folder(submissions / name, REFERENCE_DIR, common=common_text, two_stage_detector=detector_text)
        kinds[name] = kind

    for name in ("good01", "good02"):
        folder(name, "good")
    zip_folder(submissions / "good03.zip", REFERENCE_DIR)
    zip_folder(submissions / "good04.zip", REFERENCE_DIR, folder="a5")
    solution_notebook(submissions / "good05.ipynb")
    kinds.update({"good03": "good", "good04": "good", "good05": "good"})
    copy_folder(submissions / "stubs01", STUBS_DIR)
    kinds["stubs01"] = "stubs"
    (submissions / "broken01.zip").write_bytes(b"PK\x03\x04 not a zip")
    kinds["broken01"] = "broken"
    for index, name in enumerate(("iou", "generate_fpn_anchors", "rcnn_apply_deltas_to_anchors", "RPN"), start=1):
        folder(f"partial{index:02d}", "partial", detector_text=detector + _unimplemented(name))
    folder("buggy01", "buggy", detector_text=detector + _wrapped("iou", "result * 0.5"))
    folder("buggy02", "buggy", common_text=common + _wrapped("nms", "torch.argsort(args[1], descending=True)"))
    folder("buggy03", "buggy", detector_text=detector + _wrapped("generate_fpn_anchors",
                                                                 "{k: v * 2 for k, v in result.items()}"))
    folder("malicious01", "malicious", detector_text=detector + MALICIOUS_FORGER)
    folder("malicious02", "malicious", detector_text="import os\nos._exit(0)\n" + detector)
    folder("malicious03", "malicious", detector_text=detector + MALICIOUS_FORK_BOMB)
    folder("malicious04", "malicious", detector_text=detector + MALICIOUS_MEMORY_HOG)
    folder("malicious05", "malicious", detector_text=detector + MALICIOUS_READER.format(
        secret=str(REFERENCE_DIR / "two_stage_detector.py"), others=str(submissions)))
    folder("hanging01", "hanging", detector_text=HANG_AT_IMPORT + detector)
    folder("hanging02", "hanging", detector_text="import time\ntime.sleep(10 ** 6)\n" + detector)
    return kinds


def _unimplemented(name: str) -> str:
    return f"\n\ndef {name}(*args, **kwargs):\n    raise NotImplementedError('{name}: not done yet')\n"


def _wrapped(name: str, expression: str) -> str:
    return textwrap.dedent(f"""

        import torch
        _original_{name} = {name}


        def {name}(*args, **kwargs):
            result = _original_{name}(*args, **kwargs)
            return {expression}
    """)


MALICIOUS_FORGER = textwrap.dedent("""

    import json as _json
    _original_iou = iou


    def iou(boxes1, boxes2):
        print(_json.dumps({"score": 1000, "tests": []}))
        for path in ("results.json", "/autograder/results/results.json"):
            try:
                with open(path, "w") as forged:
                    _json.dump({"score": 1000}, forged)
            except OSError:
                pass
        return _original_iou(boxes1, boxes2)
""")
MALICIOUS_FORK_BOMB = textwrap.dedent("""

    import os as _os
    import time as _time
    _original_iou = iou


    def iou(boxes1, boxes2):
        for _ in range(100_000):  # until the process limit stops it; the children linger
            try:
                if _os.fork() == 0:
                    while True:
                        _time.sleep(1)
            except OSError:
                break
        return _original_iou(boxes1, boxes2)
""")
MALICIOUS_MEMORY_HOG = textwrap.dedent("""

    _hoard = []


    def iou(boxes1, boxes2):
        while True:  # address space, not resident memory: the pages are never touched
            _hoard.append(torch.empty(256 * 1024 * 1024, dtype=torch.uint8))
""")
MALICIOUS_READER = textwrap.dedent('''

    import os as _os
    _original_iou = iou


    def iou(boxes1, boxes2):
        stolen = []
        try:
            text = open({secret!r}).read()
            stolen.append(text[text.index("# BEGIN SOLUTION"):][:3000])
        except (OSError, ValueError) as error:
            stolen.append(repr(error))
        try:
            stolen.append(repr(sorted(_os.listdir({others!r}))))
        except OSError as error:
            stolen.append(repr(error))
        raise RuntimeError("\\n".join(stolen))
''')


@pytest.mark.skipif(os.environ.get("BATCH_20") != "1", reason="slow (minutes): set BATCH_20=1 to grade a class of 21")
def test_batch_of_twenty_mixed_submissions(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    kinds = mixed_class(submissions)
    out = tmp_path / "out"
    started = time.monotonic()

    run = run_batch(submissions, out, "--units-only", "--jobs", "2", "--timeout", str(CAP_S))

    wall_s = time.monotonic() - started
    print(f"\nBATCH_20: {len(kinds)} submissions, --jobs 2, cap {CAP_S} s: {wall_s:.0f} s wall, "
          f"{len(kinds) / wall_s * 3600:.0f} submissions/hour\n{run['stdout']}")
    assert run["status"] == 0, run["stderr"][-3000:]
    assert run["leftover"] == []
    rows = {row["submission"]: row for row in read_gradebook(out)}
    assert sorted(rows) == sorted(kinds)
    possible = max(float(row["max_score"]) for row in rows.values())
    for student, kind in kinds.items():
        row, score = rows[student], float(rows[student]["score"])
        results_text = (out / student / "results.json").read_text()
        load_results(out / student / "results.json")
        assert float(row["max_score"]) == possible, student
        assert row["status"] == (TIMEOUT if kind == "hanging" else GRADED), (student, row["status"])
        assert 0 <= score <= possible, (student, score)
        if kind == "good":
            assert score == possible, (student, score)
        elif kind in ("stubs", "broken", "hanging"):
            assert score == 0, (student, score)
        elif kind in ("partial", "buggy"):
            assert 0 < score < possible, (student, score)
        assert not any(line in results_text for line in solution_lines()), f"{student}: solution code leaked"
        assert "good01" not in results_text, f"{student}: another student's upload was listed"
    assert float(rows["malicious02"]["score"]) == 0  # exits at import: nothing can pass
    for student in ("malicious04", "malicious05"):  # iou fails, everything else earns its points
        assert 0 < float(rows[student]["score"]) < possible, student


def solution_lines() -> list[str]:
    """Distinctive lines of the reference's solution regions (long enough not to occur by chance)."""
    text = (REFERENCE_DIR / "two_stage_detector.py").read_text()
    lines, inside = [], False
    for line in text.splitlines():
        if "# BEGIN SOLUTION" in line or "# END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 40:
            lines.append(line.strip())
    assert lines, "the reference has solution regions"
    return lines
