"""One grading run: its options (``RunOptions``) and ``grade_submission``, which runs it top to bottom.

A run grades a submission (a folder, .ipynb or .zip) with the graded pytest
suite (``autograder/test_*.py``) in this process, writes ``results.json`` in
Gradescope's format and prints the score table.  Its options are one frozen
``RunOptions``, whoever starts it: ``python -m autograder grade`` and ``demo``
build it (``cli.py``, ``demo.py``) and call ``grade_submission``;
``pytest autograder --submission=... --results=...`` builds the same object
from its command-line options (``plugin.py``).  Every default is resolved here.

Exit status of ``grade_submission``: 0 whenever grading completed, whatever
the score (a submission that cannot be loaded is graded 0 with the reason);
``EXIT_GRADER_FAILED`` when the grader itself could not run or a sandbox
failure makes the grade untrustworthy (the results file may then be missing
or incomplete).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.intake.submission_metadata import MetadataError, SubmissionMetadata, load_metadata
from autograder.results.document import write_results
from autograder.results.grading_policy import GradingPolicy, PolicyError, load_policy
from autograder.results.output_files import make_private_folder
from autograder.results.schema import RESULTS_FILE
from autograder.results.score_policies import is_rate_limited, rate_limited_document
from autograder.stages import STAGE_NAMES, UNIT_STAGE_NAMES

AUTOGRADER_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = AUTOGRADER_DIR.parent
DEFAULT_SUBMISSION = REPOSITORY_DIR / "reference"
EXIT_GRADER_FAILED = 2
# pytest exit codes meaning "the tests ran": all passed, or some failed.
_GRADING_COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


@dataclass(frozen=True)
class RunOptions:
    """What one grading run grades, which stages, and where its results go.

    Paths the sandbox and the output use (``submission``, ``results``,
    ``protect``) are made absolute on construction; ``policy`` and
    ``metadata`` stay as given, so that their error messages name them the
    way staff typed them.  Unknown stage names raise ``ValueError``.
    """

    submission: Path = DEFAULT_SUBMISSION  # folder, .ipynb or .zip
    results: Path | None = None  # where results.json goes; None: not written (a plain ``pytest autograder``)
    stages: tuple[str, ...] = STAGE_NAMES  # ``stages.py``; run in STAGES order whatever the order here
    protect: tuple[Path, ...] = ()  # more directories student code must not read (plugin.PROTECTED_DIRS too)
    policy: Path | None = None  # the staff's grading policy; None: autograder/grading_policy.toml if it exists
    metadata: Path | None = None  # Gradescope's submission_metadata.json, read when the policy needs it

    def __post_init__(self) -> None:
        unknown = sorted(set(self.stages) - set(STAGE_NAMES))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGE_NAMES)}")
        normalised = {
            "submission": Path(self.submission).resolve(),
            "results": Path(self.results).resolve() if self.results is not None else None,
            "stages": tuple(self.stages),
            "protect": tuple(Path(path).resolve() for path in self.protect),
            "policy": Path(self.policy) if self.policy is not None else None,
            "metadata": Path(self.metadata) if self.metadata is not None else None,
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    @classmethod
    def for_grade(cls, submission: Path, out: Path, *, units_only: bool = False, protect=(),
                  policy: Path | None = None, metadata: Path | None = None) -> RunOptions:
        """``python -m autograder grade SUBMISSION --out OUT [--units-only] ...``: results.json in ``out``."""
        return cls(submission=submission, results=Path(out) / RESULTS_FILE,
                   stages=UNIT_STAGE_NAMES if units_only else STAGE_NAMES,
                   protect=tuple(protect), policy=policy, metadata=metadata)


# Where the plugin finds a run's options when ``grade_submission`` started pytest.
RUN_OPTIONS = pytest.StashKey[RunOptions]()


def grade_submission(options: RunOptions) -> int:
    """Grade ``options.submission`` into ``options.results``; return the process exit status.

    A submission over the policy's rate limit is not graded (``results/score_policies.py``).
    """
    if options.results is None:
        raise ValueError("grade_submission writes results.json: RunOptions.results must name its path")
    try:
        _prepare_output(options.results)
    except OSError as error:
        return _grader_failed(f"cannot prepare the output directory {options.results.parent}: {error}")

    try:
        policy, metadata = load_staff_rules(options)
    except (PolicyError, MetadataError) as error:
        return _grader_failed(str(error))
    if policy.needs_metadata and metadata is None:
        print(f"autograder: the grading policy ({policy.source}) has a late penalty, a rate limit or "
              "identity, but no --metadata was given: none of them applies", file=sys.stderr)

    if is_rate_limited(policy, metadata):
        write_results(options.results, rate_limited_document(policy, metadata))
        print("autograder: over the rate limit; not graded (results.json says so)", file=sys.stderr)
        return 0

    exit_code = run_graded_stages(options)

    if exit_code not in _GRADING_COMPLETED or not options.results.is_file():
        return _grader_failed(f"grading did not complete (pytest exit status {int(exit_code)}); "
                              "see the messages above.")
    return 0


def load_staff_rules(options: RunOptions) -> tuple[GradingPolicy, SubmissionMetadata | None]:
    """The staff's grading policy and, when it needs them and a file was given, the submission's metadata.

    Raises ``PolicyError`` or ``MetadataError``, whose messages are for staff.
    """
    policy = load_policy(options.policy)
    metadata = load_metadata(options.metadata) if options.metadata and policy.needs_metadata else None
    return policy, metadata


def run_graded_stages(options: RunOptions, suite: Path = AUTOGRADER_DIR) -> pytest.ExitCode | int:
    """pytest on the graded suite (``autograder/``, whose conftest loads ``plugin.py``), handed ``options``;
    its exit code."""
    arguments = [str(suite), f"--rootdir={suite.parent}", "-p", "no:cacheprovider", "--tb=short", "-q"]
    return pytest.main(arguments, plugins=[_OptionsHandOver(options)])


class _OptionsHandOver:
    """A pytest plugin object that puts a run's options in the config's stash before ``plugin.py`` configures."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN_OPTIONS] = self.options


def _prepare_output(results: Path) -> None:
    """Create the results folder private to the grader; remove a stale results file."""
    make_private_folder(results.parent)
    results.unlink(missing_ok=True)


def _grader_failed(message: str) -> int:
    print(f"autograder: {message}", file=sys.stderr)
    return EXIT_GRADER_FAILED
