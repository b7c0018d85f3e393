"""Batch grading of a class: ``python -m autograder batch SUBMISSIONS_DIR --out DIR``.

Every entry of SUBMISSIONS_DIR (see ``batch_submissions``), or every
submission of Gradescope's export (``gradescope_export``), is graded by the
grade command in its own subprocess and sandbox (``batch_grading``), ``--jobs``
at a time, each under a wall-clock cap (``--timeout``), with a progress bar.
Results go to ``DIR/<id>/results.json`` (``batch_records``), then
``DIR/gradebook.csv`` (``gradebook``) once every submission has one.

Resumable: a submission already done (valid results and a final status) is
skipped unless ``--regrade``; an interrupted batch (Ctrl-C, SIGTERM) kills
its gradings, commits nothing half-done, and the same command resumes it.

Exit status: 0 when the batch completed (whatever the scores); 2 when the
grader itself failed on some submission (listed; they are retried on
resume) or the batch could not start; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from tqdm import tqdm

from autograder.batch.one_submission import GradingInterrupted, GradingJob, grade_one
from autograder.batch.records import GRADED, GRADER_FAILED, LOG_FILE, STATUSES, TIMEOUT, is_done
from autograder.batch.shards import Shard, parse_shard, write_manifest
from autograder.results.output_files import make_private_folder
from autograder.batch.submissions import BatchInputError, BatchSubmission, find_submissions, upload_fingerprint
from autograder.batch.gradebook import GRADEBOOK_FILE, NOT_GRADED, write_class_gradebook
from autograder.batch.gradescope_export import ExportError, export_root, read_export, unpack_export
from autograder.batch.similarity import report as write_similarity_report

DEFAULT_TIMEOUT_S = 1800.0  # a submission timing out in every sandbox call takes ~25 min (~50 tests x 30 s)
EXIT_COMPLETED = 0
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130
SECONDS_PER_HOUR = 3600.0


def default_jobs() -> int:
    """Half the usable CPUs (a grading keeps about one core busy, plus start-up bursts), at least 1."""
    return max(1, len(os.sched_getaffinity(0)) // 2)


def add_batch_parser(commands: argparse._SubParsersAction) -> None:
    """The ``batch`` subcommand of ``python -m autograder``."""
    batch = commands.add_parser("batch", help="grade every submission of a folder and write a gradebook")
    batch.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR",
                       help="one entry per student (a folder, an .ipynb or a .zip, named by student id), or "
                            "Gradescope's Export Submissions archive (.zip or its folder)")
    batch.add_argument("--out", type=Path, required=True, help="output directory: <id>/results.json, gradebook.csv")
    batch.add_argument("--jobs", type=_positive_int, default=default_jobs(), metavar="N",
                       help="gradings at a time (default: half the CPUs, here %(default)s)")
    batch.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                       help="wall-clock limit per submission; beyond it the grading is killed and scores 0 "
                            "(default: %(default)g)")
    batch.add_argument("--regrade", action="store_true", help="grade again submissions that are already done")
    batch.add_argument("--units-only", action="store_true", help="run only the unit stages")
    batch.add_argument("--shard", type=parse_shard, metavar="K/N",
                       help="grade only share K of N (round robin over the ids); combine with `merge`")
    batch.add_argument("--similarity", action="store_true",
                       help="also write similarity.csv and similarity.html (copydetect; not with --shard: "
                            "run `python -m autograder similarity` once instead)")


def run_batch_from_args(args: argparse.Namespace) -> int:
    if args.similarity and args.shard:
        print("batch: --similarity compares the whole class; with --shard, run "
              "`python -m autograder similarity SUBMISSIONS --out DIR` once instead", file=sys.stderr)
        return EXIT_FAILED
    return run_batch(args.submissions, args.out, jobs=args.jobs, timeout_s=args.timeout,
                     regrade=args.regrade, units_only=args.units_only, shard=args.shard,
                     similarity=args.similarity)


def run_batch(submissions_dir: Path, out: Path, *, jobs: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
              regrade: bool = False, units_only: bool = False, shard: Shard | None = None,
              similarity: bool = False) -> int:
    """Grade ``submissions_dir`` into ``out``; return the exit status (see the module docstring)."""
    try:
        make_private_folder(out)  # students' results: staff only
        submissions = class_submissions(Path(submissions_dir), out)
        if shard is not None:
            class_ids = [submission.id for submission in submissions]
            submissions = shard.select(submissions)
            write_manifest(out, shard, class_ids, [submission.id for submission in submissions])
    except (BatchInputError, ExportError, OSError) as error:
        print(f"batch: {error}", file=sys.stderr)
        return EXIT_FAILED
    fingerprints = {submission.id: _fingerprint(submission) for submission in submissions}
    pending = [submission for submission in submissions
               if regrade or not is_done(out / submission.id, fingerprints[submission.id])]
    skipped = len(submissions) - len(pending)
    print(f"batch: {_count(len(submissions), 'submission')} in {submissions_dir}"
          + (f" (shard {shard})" if shard else "") + "; "
          + (f"{skipped} already graded, skipped (--regrade grades them again); " if skipped else "")
          + f"{len(pending)} to grade, {jobs} at a time, at most {timeout_s:g} s each", flush=True)
    protect = (Path(submissions_dir).resolve(), out.resolve())
    grading_jobs = [GradingJob(submission, fingerprints[submission.id], out / submission.id, timeout_s, units_only,
                               protect) for submission in pending]
    started = time.monotonic()
    try:
        statuses = _grade_all(grading_jobs, jobs) if grading_jobs else {}
    except KeyboardInterrupt:
        print("batch: interrupted; nothing half-graded was kept. Run the same command again to resume.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    elapsed = time.monotonic() - started
    status = _finish(submissions, out, statuses, elapsed)
    if similarity:
        uploads = {submission.id: submission.path for submission in submissions}
        status = max(status, write_similarity_report(uploads, out))
    return status


def _grade_all(grading_jobs: list[GradingJob], jobs: int) -> dict[str, str]:
    """Run the gradings on ``jobs`` threads (each drives one subprocess); id → status."""
    stop = threading.Event()
    statuses: dict[str, str] = {}
    progress = tqdm(total=len(grading_jobs), desc="grading", unit="submission", file=sys.stderr, mininterval=1.0)
    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grading")
    try:
        with _sigterm_as_interrupt():
            running: dict[Future, GradingJob] = {executor.submit(grade_one, job, stop): job for job in grading_jobs}
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    record = future.result()
                    statuses[job.submission.id] = record.status
                    if record.status != GRADED:
                        progress.write(f"batch: {job.submission.id}: {record.status}: {record.message}")
                    progress.set_postfix_str(f"{job.submission.id}: {record.status}", refresh=False)
                    progress.update()
    except BaseException:
        stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=True)
        progress.close()
    return statuses


def _finish(submissions: list[BatchSubmission], out: Path, statuses: dict[str, str], elapsed: float) -> int:
    """Write the gradebook and print the summary; the batch's exit status."""
    entries = write_class_gradebook(out, [submission.id for submission in submissions])
    counts = Counter(statuses.values())
    if statuses:
        summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status])
        rate = len(statuses) / elapsed * SECONDS_PER_HOUR if elapsed > 0 else float("inf")
        print(f"batch: {summary} in {elapsed:.1f} s ({rate:.0f} submissions/hour)")
    print(f"batch: gradebook: {out / GRADEBOOK_FILE}")
    timed_out = sorted(key for key, status in statuses.items() if status == TIMEOUT)
    if timed_out:
        print(f"batch: stopped at the time limit (score 0): {', '.join(timed_out)}")
    failed = sorted(entry.submission_id for entry in entries if entry.status in (GRADER_FAILED, NOT_GRADED))
    if failed:
        print(f"batch: the grader failed on {', '.join(failed)}; see <id>/{LOG_FILE} under {out}. "
              "Run the same command again to retry them.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_COMPLETED


def class_submissions(source: Path, out: Path) -> list[BatchSubmission]:
    """The submissions of ``source``: a folder of uploads, or Gradescope's export (zip or folder)."""
    if source.is_file() and source.suffix.lower() == ".zip":
        root = unpack_export(source, out)
    else:
        root = export_root(source)
    if root is None:
        return find_submissions(source, exclude=(out,))
    return [BatchSubmission(item.id, item.path, item.students) for item in read_export(root)]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _fingerprint(submission: BatchSubmission) -> str:
    """The upload's fingerprint; empty when it cannot be read (then it is never "done": the grader reports why)."""
    try:
        return upload_fingerprint(submission.path)
    except OSError:
        return ""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops the batch like Ctrl-C (in the main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
