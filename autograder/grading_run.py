"""One grading run: SUBMISSION (a folder, .ipynb or .zip) -> ``OUT/results.json``.

Runs the graded pytest suite (``autograder/test_*.py``) in this process on
the submission, writes ``OUT/results.json`` in Gradescope's format and prints
the score table.  The ``grade`` and ``demo`` commands (``cli.py``,
``demo.py``) call it.

Exit status: 0 whenever grading completed, whatever the score (a submission
that cannot be loaded is graded 0 with the reason); ``EXIT_GRADER_FAILED``
when the grader itself could not run or a sandbox failure makes the grade
untrustworthy (the results file may then be missing or incomplete).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autograder.results.grading_policy import PolicyError, load_policy
from autograder.results.output_files import make_private_folder
from autograder.plugin import AUTOGRADER_DIR
from autograder.results.document import write_results
from autograder.results.schema import RESULTS_FILE
from autograder.results.score_policies import is_rate_limited, rate_limited_document
from autograder.stages import STAGE_NAMES, UNIT_STAGE_NAMES
from autograder.intake.submission_metadata import MetadataError, load_metadata

EXIT_GRADER_FAILED = 2
# pytest exit codes meaning "the tests ran": all passed, or some failed.
_GRADING_COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


def grade_submission(submission: Path, out: Path, *, units_only: bool = False, protect: list[Path] = (),
                     policy: Path | None = None, metadata: Path | None = None) -> int:
    """Grade ``submission`` into ``out/results.json``; return the process exit status.

    ``policy`` and ``metadata``: see ``results/grading_policy.py``; a submission over
    the policy's rate limit is not graded (``score_policies``).
    """
    try:
        results_path = _prepare_output(out)
    except OSError as error:
        print(f"autograder: cannot prepare the output directory {out}: {error}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    try:
        staff_policy = load_policy(policy)
        submission_metadata = load_metadata(metadata) if metadata and staff_policy.needs_metadata else None
    except (PolicyError, MetadataError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    if staff_policy.needs_metadata and submission_metadata is None:
        print(f"autograder: the grading policy ({staff_policy.source}) has a late penalty, a rate limit or "
              "identity, but no --metadata was given: none of them applies", file=sys.stderr)
    if is_rate_limited(staff_policy, submission_metadata):
        write_results(results_path, rate_limited_document(staff_policy, submission_metadata))
        print("autograder: over the rate limit; not graded (results.json says so)", file=sys.stderr)
        return 0
    stages = UNIT_STAGE_NAMES if units_only else STAGE_NAMES
    exit_code = pytest.main([
        str(AUTOGRADER_DIR),
        f"--submission={Path(submission).resolve()}",
        f"--results={results_path}",
        f"--stages={','.join(stages)}",
        *(f"--protect={Path(path).resolve()}" for path in protect),
        *([f"--policy={Path(policy).resolve()}"] if policy else []),
        *([f"--metadata={Path(metadata).resolve()}"] if metadata else []),
        f"--rootdir={AUTOGRADER_DIR.parent}",
        "-p", "no:cacheprovider",
        "--tb=short",
        "-q",
    ])
    if exit_code not in _GRADING_COMPLETED or not results_path.is_file():
        print(f"autograder: grading did not complete (pytest exit status {int(exit_code)}); "
              "see the messages above.", file=sys.stderr)
        return EXIT_GRADER_FAILED
    return 0


def _prepare_output(out: Path) -> Path:
    """Create ``out`` private to the grader; remove a stale results file."""
    make_private_folder(out)
    results_path = (out / RESULTS_FILE).resolve()
    results_path.unlink(missing_ok=True)
    return results_path
