"""Command line: ``python -m autograder grade SUBMISSION --out DIR [--units-only]``
(and ``demo``: grade the reference end to end, see demo.py; ``batch``: grade
every submission of a folder into a gradebook, see batch/class_batch.py; ``merge``: combine
the outputs of ``batch --shard K/N``, see batch/shards.py; ``similarity``:
a similarity report of a class, see batch/similarity.py).

``grade`` builds the run's options (``grading_run.RunOptions``), runs one
grading in this process (``grading_run.grade_submission``) and exits with its
status.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder import demo
from autograder.batch.class_batch import add_batch_parser, run_batch_from_args
from autograder.batch.shards import add_merge_parser, run_merge_from_args
from autograder.grading_run import RunOptions, grade_submission
from autograder.batch.similarity import add_similarity_parser, run_similarity
from autograder.stages import UNIT_STAGE_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade a two-stage detector submission.")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one submission and write results.json")
    grade.add_argument("submission", type=Path, help="folder with common.py + two_stage_detector.py, .ipynb or .zip")
    grade.add_argument("--out", type=Path, required=True, help="output directory (created with mode 0700)")
    grade.add_argument("--units-only", action="store_true", help=f"run only the unit stages ({', '.join(UNIT_STAGE_NAMES)})")
    grade.add_argument("--protect", action="append", default=[], type=Path, metavar="DIR",
                       help="another directory student code must not read, e.g. golden fixtures (repeatable)")
    grade.add_argument("--policy", type=Path, metavar="FILE",
                       help="the staff's grading policy (default: autograder/grading_policy.toml if it exists)")
    grade.add_argument("--metadata", type=Path, metavar="FILE",
                       help="Gradescope's submission_metadata.json (late penalty, rate limit, identity)")
    demo.add_parser(commands)
    add_batch_parser(commands)
    add_merge_parser(commands)
    add_similarity_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo.run(args)
    if args.command == "batch":
        return run_batch_from_args(args)
    if args.command == "merge":
        return run_merge_from_args(args)
    if args.command == "similarity":
        return run_similarity(args.submissions, args.out)
    return grade_submission(RunOptions.for_grade(args.submission, args.out, units_only=args.units_only,
                                                 protect=args.protect, policy=args.policy, metadata=args.metadata))
