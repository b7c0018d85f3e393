"""`python -m autograder demo`: grade the reference end to end, on built-in defaults.

The quick start's first command (`make demo`). It grades `reference/` with
every stage the grader has (the unit tests and, where available, the
notebook run on synthetic data) into `--out`, and says where to look.
"""
import argparse
import json
from pathlib import Path

from autograder.grading_run import RunOptions, grade_submission
from autograder.course.reference_solution import REFERENCE_DIR

DEFAULT_OUT = Path("runs/demo")


def add_parser(commands) -> None:
    demo = commands.add_parser("demo", help="grade the reference solution end to end (built-in defaults)")
    demo.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    demo.add_argument("--submission", type=Path, default=REFERENCE_DIR,
                      help="what to grade (default: the reference solution)")


def run(args: argparse.Namespace) -> int:
    print(f"Grading {args.submission} into {args.out} (all stages) ...", flush=True)
    options = RunOptions.for_grade(args.submission, args.out)
    status = grade_submission(options)
    results_path = options.results
    if status != 0 or not results_path.is_file():
        return status
    results = json.loads(results_path.read_text())
    max_score = sum(test["max_score"] for test in results["tests"])
    print(f"\nScore {results['score']:g} / {max_score:g} in {results['execution_time']:.0f} s; "
          f"results: {results_path}")
    return 0
