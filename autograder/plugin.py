"""pytest plugin: graded tests → points → Gradescope ``results.json``.

Loaded by ``autograder/conftest.py`` (so ``pytest autograder`` grades the
reference solution) or with ``-p autograder.plugin``.

* Marker ``@pytest.mark.points(n, tags=("iou",), visibility="visible")`` on
  every graded test: ``n`` points, the graded definitions it exercises
  (``submission_layout.KNOWN_NAMES``), Gradescope visibility.  ``@pytest.mark.stage(name)``
  puts it in a stage other than ``units`` (see ``stages.py``).
* The run's options are one ``grading_run.RunOptions`` (defaults resolved
  there): ``grading_run.grade_submission`` hands it over in the config's
  stash; otherwise it is built from the command-line options
  ``--submission PATH`` (folder, .ipynb or .zip; default: the reference
  folder), ``--results PATH`` (write results.json there), ``--stages a,b``
  (default: all), ``--protect DIR`` (repeatable: more directories hidden
  from student code, on top of ``PROTECTED_DIRS`` and the results
  directory), ``--policy FILE`` and ``--metadata FILE`` (the staff's grading
  policy, ``results/grading_policy.py``, and Gradescope's submission
  metadata it reads: visibility, late penalty, identity).
* Fixtures ``sandbox`` (session ``Sandbox`` on the normalised submission),
  ``submission`` (the ``NormalizedSubmission``), ``run_options`` (the
  run's ``RunOptions``) and ``points``
  (``points.award(fraction, note)`` for partial credit; a passing test
  without it earns everything, a failing one what was awarded, else 0).

A test's feedback is its failure's teaching text: the ``SubmissionError``
message, or the ``assert`` message.  A test that errors in setup (e.g. a
submission that cannot be loaded) still scores 0 with that message.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading_run import AUTOGRADER_DIR, REPOSITORY_DIR, RUN_OPTIONS, RunOptions, load_staff_rules
from autograder.sandbox import grader_memory
from autograder.intake.bounded_normalization import normalize_upload
from autograder.errors import SandboxError, SubmissionError, SubmissionFormatError
from autograder.results.grading_policy import GradingPolicy, PolicyError
from autograder.submission_layout import KNOWN_NAMES
from autograder.results.document import TestResult, results_document, score_table, write_results
from autograder.results.schema import VISIBILITIES
from autograder.sandbox.client import Sandbox
from autograder.results.score_policies import apply_policy
from autograder.stages import DEFAULT_STAGE, STAGE_NAMES
from autograder.intake.submission import NormalizedSubmission
from autograder.intake.submission_metadata import MetadataError, SubmissionMetadata

__all__ = [
    "pytest_addoption", "pytest_configure", "pytest_sessionstart", "pytest_collection_modifyitems",
    "pytest_runtest_setup", "pytest_runtest_makereport", "pytest_sessionfinish", "pytest_terminal_summary",
    "sandbox", "submission", "staff_notes", "run_options", "points", "PointsAward",
]

# Directories student code must not read (hidden when root, see README.md).
# The whole course repository (history, tests, docs) when the grader runs from it, as it must:
# a pip-installed grader's parent folder is site-packages, which workers need.
PROTECTED_DIRS = (AUTOGRADER_DIR, REPOSITORY_DIR / "reference") + (
    (REPOSITORY_DIR,) if (REPOSITORY_DIR / "reference").is_dir() else ())
GRADER_FAILURE_TEXT = ("The grader itself failed while running this test; this is not your fault. "
                       "Please tell the course staff.")

_SESSION = pytest.StashKey["GradingSession"]()
_AWARD = pytest.StashKey["PointsAward"]()


class PointsAward:
    """Partial credit for the current test (the ``points`` fixture)."""

    def __init__(self) -> None:
        self.fraction: float | None = None
        self.note = ""

    def award(self, fraction: float, note: str = "") -> None:
        """Set the fraction of this test's points earned so far (replaces earlier awards)."""
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"points.award: fraction must be within [0, 1], got {fraction!r}")
        self.fraction = float(fraction)
        self.note = note


class GradingSession:
    """Per-run state: the submission, its sandbox and every graded test's result."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.isolation_warnings: tuple[str, ...] = ()
        self.staff_notes: list[str] = []  # measurements for staff (machine speed): terminal only, never results.json
        self.started = time.monotonic()
        self.tests: dict[str, TestResult] = {}
        self.grader_failures: list[str] = []
        self.submission: NormalizedSubmission | None = None
        self.submission_error: SubmissionFormatError | None = None
        self._sandbox: Sandbox | None = None
        self.sandbox_error: Exception | None = None
        self._workdir: str | None = None
        self.policy = GradingPolicy()
        self.metadata: SubmissionMetadata | None = None
        self.memory_mb = grader_memory.GRADER_MEMORY_MB

    def prepare(self) -> None:
        """Limit the grader's own memory, normalise the submission and start its sandbox (the zygote
        warms up meanwhile)."""
        try:
            self.memory_mb = grader_memory.grader_memory_mb()
        except ValueError as error:
            print(f"autograder: {error}; using {self.memory_mb} MB", file=sys.stderr)
        grader_memory.limit_own_memory(self.memory_mb)
        self._workdir = tempfile.mkdtemp(prefix="autograder-submission-")
        try:
            self.submission = normalize_upload(self.options.submission, Path(self._workdir))
        except SubmissionFormatError as error:
            self.submission_error = error
            return
        except SandboxError as error:  # the grader's own failure: staff must look
            self.sandbox_error = error
            return
        protected = list(PROTECTED_DIRS) + list(self.options.protect)
        protected += [self.options.results.parent] if self.options.results else []
        try:
            self._sandbox = Sandbox(self.submission.root, protected_paths=protected)
        except (SubmissionError, SandboxError, OSError) as error:
            self.sandbox_error = error

    def sandbox(self) -> Sandbox:
        if self.submission_error is not None:
            raise self.submission_error
        if self.sandbox_error is not None:
            raise self.sandbox_error
        return self._sandbox

    def start_test(self, tags: tuple[str, ...], counted: bool) -> None:
        """The sandbox's calls from now on belong to a test tagged ``tags`` (``call_budget``)."""
        if self._sandbox is not None:
            self._sandbox.budget.start_test(tags, counted)

    def record(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
        result = self.tests.get(item.nodeid)
        if result is None:
            return
        award = item.stash.get(_AWARD, None)
        if report.when == "teardown":
            if report.failed:
                self.grader_failures.append(f"{item.nodeid}: teardown failed: {call.excinfo.value!r}")
            return
        if report.when == "setup" and report.passed:
            return
        awarded = award.fraction if award is not None else None
        result.passed = report.when == "call" and report.passed
        result.fraction = (1.0 if awarded is None else awarded) if result.passed else (awarded or 0.0)
        message = "" if result.passed else self._failure_text(item, call, report)
        note = award.note if award is not None else ""
        result.output = "\n".join(part for part in (note, message) if part)

    def _failure_text(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> str:
        error = call.excinfo.value if call.excinfo is not None else None
        if report.skipped:
            return f"Not run: {getattr(error, 'msg', None) or 'skipped'}"
        if isinstance(error, SandboxError):
            self.grader_failures.append(f"{item.nodeid}: {error}")
            return GRADER_FAILURE_TEXT
        if grader_memory.is_out_of_memory(error):
            self.grader_failures.append(f"{item.nodeid}: the grader ran out of memory: {error!r:.300}")
            return grader_memory.OUT_OF_MEMORY_TEXT.format(limit_mb=self.memory_mb)
        if isinstance(error, SubmissionError):
            return str(error)
        if isinstance(error, AssertionError):
            return assertion_text(error)
        if isinstance(error, pytest.fail.Exception):
            return error.msg
        print(f"autograder: {item.nodeid} raised {error!r} in the grading test", file=sys.stderr)
        return f"The grader could not check this test ({type(error).__name__}: {error})."

    def finish(self) -> dict:
        """Close the sandbox, delete temporary files, return the results document."""
        lines = []
        if self.submission is not None:
            lines.append(f"Graded: {self.submission.description}")
            lines += self.submission.notes
        if self.submission_error is not None:
            lines.append(f"The submission could not be loaded: {self.submission_error}")
        if self._sandbox is not None and self.sandbox_error is None:
            try:
                lines.append(self._sandbox.isolation.summary)
                self.isolation_warnings = self._sandbox.isolation.warnings  # for staff: terminal only
            except SandboxError:
                pass
            self._sandbox.close()
        if self.sandbox_error is not None or self.grader_failures:
            lines.append("Some tests could not be graded because the grader failed; please tell the course staff.")
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        tests = list(self.tests.values())
        document = results_document(tests, "\n".join(lines), time.monotonic() - self.started)
        return apply_policy(document, self.policy, self.metadata)


def assertion_text(error: AssertionError) -> str:
    """The ``assert`` message without pytest's introspection lines."""
    text = str(error)
    if text.startswith("assert ") or not text:
        return text.split("\n", 1)[0] or "assertion failed"
    return text.split("\nassert ", 1)[0]


# ---------------------------------------------------------------------- hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder")
    # Defaults live in grading_run.RunOptions: an option left out is None here (see options_from_command_line).
    group.addoption("--submission", default=None,
                    help="folder, .ipynb or .zip to grade (default: the reference solution)")
    group.addoption("--results", default=None, help="write Gradescope's results.json to this path")
    group.addoption("--stages", default=None,
                    help=f"comma-separated grading stages to run (default: all of {', '.join(STAGE_NAMES)})")
    group.addoption("--protect", action="append", default=[], metavar="PATH",
                    help="another directory student code must not read, e.g. golden fixtures (repeatable)")
    group.addoption("--policy", default=None, metavar="FILE",
                    help="the staff's grading policy (default: autograder/grading_policy.toml if it exists)")
    group.addoption("--metadata", default=None, metavar="FILE",
                    help="Gradescope's submission_metadata.json, read when the policy needs it")


MARKERS = (
    "points(n, tags=(), visibility='visible'): points of a graded test",
    f"stage(name): grading stage of a test (default {DEFAULT_STAGE!r})",
)


def register_markers(config: pytest.Config) -> None:
    """Declare the graded tests' markers (also for sessions that import graded test modules)."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def options_from_command_line(config: pytest.Config) -> RunOptions:
    """``pytest autograder --submission ... --results ...``: the options given; ``RunOptions`` fills in the rest."""
    given = {name: Path(config.getoption(name)) for name in ("submission", "results", "policy", "metadata")
             if config.getoption(name) is not None}
    if config.getoption("stages") is not None:
        given["stages"] = tuple(name.strip() for name in config.getoption("stages").split(",") if name.strip())
    given["protect"] = tuple(Path(path) for path in config.getoption("protect"))
    try:
        return RunOptions(**given)
    except ValueError as error:  # an unknown stage
        raise pytest.UsageError(f"--stages: {error}") from None


def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    options = config.stash.get(RUN_OPTIONS, None) or options_from_command_line(config)
    grading = GradingSession(options)
    try:
        grading.policy, grading.metadata = load_staff_rules(options)
    except (PolicyError, MetadataError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_SESSION] = grading


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION].prepare()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    grading = config.stash[_SESSION]
    problems, selected, deselected = [], [], []
    for item in items:
        stage_marker = item.get_closest_marker("stage")
        stage = stage_marker.args[0] if stage_marker and stage_marker.args else DEFAULT_STAGE
        if stage not in STAGE_NAMES:
            problems.append(f"{item.nodeid}: unknown stage {stage!r}")
        if stage not in grading.options.stages:
            deselected.append(item)
            continue
        selected.append(item)
        try:
            grading.tests[item.nodeid] = _test_result(item, stage, grading.policy)
        except (TypeError, ValueError) as error:
            problems.append(f"{item.nodeid}: {error}")
    if problems:
        raise pytest.UsageError("invalid graded tests:\n" + "\n".join(problems))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = sorted(selected, key=_stage_index)  # stage by stage, in STAGES order (stable within a stage)
    grading.tests = {item.nodeid: grading.tests[item.nodeid] for item in items}  # results.json in that order too


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Charge the test's sandbox calls to its definitions (the unit stage's time budget)."""
    grading = item.config.stash[_SESSION]
    result = grading.tests.get(item.nodeid)
    if result is not None:
        grading.start_test(result.tags, counted=_stage_index(item) == STAGE_NAMES.index(DEFAULT_STAGE))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.config.stash[_SESSION].record(item, call, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    grading = session.config.stash[_SESSION]
    document = grading.finish()
    if grading.options.results is not None:
        write_results(grading.options.results, document)
    if grading.grader_failures or grading.sandbox_error is not None:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    grading = config.stash[_SESSION]
    terminalreporter.section("autograder score")
    for line in score_table(list(grading.tests.values())).splitlines():  # per test, then per definition
        terminalreporter.write_line(line)
    for failure in grading.grader_failures + ([repr(grading.sandbox_error)] if grading.sandbox_error else []):
        terminalreporter.write_line(f"GRADER FAILURE: {failure}", red=True)
    for warning in grading.isolation_warnings:
        terminalreporter.write_line(warning, red=True)
    for note in grading.staff_notes:
        terminalreporter.write_line(f"staff: {note}")
    if grading.options.results is not None:
        terminalreporter.write_line(f"results: {grading.options.results}")


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> NormalizedSubmission:
    grading = request.config.stash[_SESSION]
    if grading.submission_error is not None:
        raise grading.submission_error
    return grading.submission


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return request.config.stash[_SESSION].sandbox()


@pytest.fixture(scope="session")
def staff_notes(request: pytest.FixtureRequest) -> list[str]:
    """Lines for the staff's terminal output, never for the student's results."""
    return request.config.stash[_SESSION].staff_notes


@pytest.fixture(scope="session")
def run_options(request: pytest.FixtureRequest) -> RunOptions:
    """The run's options (where results.json goes, which stages run, ...)."""
    return request.config.stash[_SESSION].options


@pytest.fixture
def points(request: pytest.FixtureRequest) -> PointsAward:
    award = PointsAward()
    request.node.stash[_AWARD] = award
    return award


# -------------------------------------------------------------------- helpers
def _stage_index(item: pytest.Item) -> int:
    marker = item.get_closest_marker("stage")
    return STAGE_NAMES.index(marker.args[0] if marker and marker.args else DEFAULT_STAGE)


def _test_result(item: pytest.Item, stage: str, policy: GradingPolicy) -> TestResult:
    marker = item.get_closest_marker("points")
    if marker is None:
        raise ValueError("graded tests need @pytest.mark.points(n, tags=(...))")
    max_score, tags, visibility = _points_spec(*marker.args, **marker.kwargs)
    name = _display_name(item)
    return TestResult(name=name, max_score=max_score, visibility=policy.visibility.visibility(name, stage, visibility),
                      tags=tags)


def _points_spec(n, *, tags=(), visibility="visible") -> tuple[float, tuple[str, ...], str]:
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0:
        raise ValueError(f"points must be a non-negative number, got {n!r}")
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    unknown = sorted(set(tags) - KNOWN_NAMES)
    if unknown:
        raise ValueError(f"unknown tag(s) {', '.join(unknown)}; tags name graded definitions (submission_layout.py)")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    return float(n), tags, visibility


def _display_name(item: pytest.Item) -> str:
    """Docstring summary (plus parameter id) when there is one, else ``file.py::test``."""
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    callspec = getattr(item, "callspec", None)
    if not doc:
        return item.nodeid.rsplit("/", 1)[-1]
    summary = doc.splitlines()[0].strip()
    return f"{summary} [{callspec.id}]" if callspec else summary
