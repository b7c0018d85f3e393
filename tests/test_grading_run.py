"""One grading run's options as data: ``grading_run.RunOptions``, built by the grade command and by
``pytest autograder``'s options alike, and handed to the plugin without argv strings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.grading_run import DEFAULT_SUBMISSION, RunOptions
from autograder.plugin import options_from_command_line
from autograder.results.schema import RESULTS_FILE
from autograder.stages import STAGE_NAMES, UNIT_STAGE_NAMES

REPOSITORY = Path(__file__).resolve().parent.parent


class CommandLine:
    """What ``config.getoption`` returns for ``pytest autograder`` with ``given`` options (others left out)."""

    def __init__(self, **given) -> None:
        self.options = {"submission": None, "results": None, "stages": None, "protect": [], "policy": None,
                        "metadata": None, **given}

    def getoption(self, name: str):
        return self.options[name]


def test_defaults_grade_the_reference_with_every_stage_and_write_nothing():
    options = RunOptions()

    assert options.submission == DEFAULT_SUBMISSION == REPOSITORY / "reference"
    assert options.stages == STAGE_NAMES and options.results is None
    assert (options.protect, options.policy, options.metadata) == ((), None, None)


def test_sandbox_and_output_paths_are_made_absolute_and_staff_files_stay_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = RunOptions(submission="upload.zip", results="out/results.json", protect=["golden"],
                         policy="policy.toml", metadata="meta.json")

    assert options.submission == tmp_path / "upload.zip"
    assert options.results == tmp_path / "out" / "results.json"
    assert options.protect == (tmp_path / "golden",)
    assert (options.policy, options.metadata) == (Path("policy.toml"), Path("meta.json"))


def test_the_grade_command_writes_into_out_and_units_only_selects_the_unit_stages(tmp_path):
    options = RunOptions.for_grade(tmp_path / "upload", tmp_path / "out", units_only=True, protect=[tmp_path / "g"])

    assert options == RunOptions(submission=tmp_path / "upload", results=tmp_path / "out" / RESULTS_FILE,
                                 stages=UNIT_STAGE_NAMES, protect=(tmp_path / "g",))
    assert RunOptions.for_grade(tmp_path / "upload", tmp_path / "out").stages == STAGE_NAMES


def test_an_unknown_stage_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown stage.s. sprint; known: units, notebook"):
        RunOptions(stages=("units", "sprint"))


def test_pytest_options_build_the_same_object_with_the_same_defaults(tmp_path):
    assert options_from_command_line(CommandLine()) == RunOptions()
    given = CommandLine(submission=str(tmp_path / "upload"), results=str(tmp_path / "out" / RESULTS_FILE),
                        stages="units, ", protect=[str(tmp_path / "g")], policy="policy.toml", metadata="meta.json")

    assert options_from_command_line(given) == RunOptions(
        submission=tmp_path / "upload", results=tmp_path / "out" / RESULTS_FILE, stages=("units",),
        protect=(tmp_path / "g",), policy=Path("policy.toml"), metadata=Path("meta.json"))
    with pytest.raises(pytest.UsageError, match="--stages: unknown stage.s. sprint"):
        options_from_command_line(CommandLine(stages="sprint"))


SUITE = textwrap.dedent('''\
    import os
    from pathlib import Path

    import pytest

    @pytest.mark.points(1)
    def test_sees_the_options_it_was_handed(run_options):
        """sees the options"""
        assert run_options.stages == ("units",), run_options
        assert run_options.protect == (Path(os.environ["EXPECTED_PROTECT"]),), run_options
        assert run_options.results == Path(os.environ["EXPECTED_RESULTS"]), run_options
''')
RUNNER = textwrap.dedent('''\
    import sys
    from pathlib import Path
    from autograder.grading_run import RunOptions, run_graded_stages
    submission, results, protect, suite = map(Path, sys.argv[1:])
    options = RunOptions(submission=submission, results=results, stages=("units",), protect=(protect,))
    sys.exit(int(run_graded_stages(options, suite=suite)))
''')


def test_the_graded_stages_get_the_options_as_an_object_not_as_argv(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text("from autograder.plugin import *  # noqa: F403\n")
    (suite / "test_graded.py").write_text(SUITE)
    empty, protect, results = tmp_path / "empty", tmp_path / "protected", tmp_path / "out" / RESULTS_FILE
    empty.mkdir()
    protect.mkdir()

    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(empty), str(results), str(protect), str(suite)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=os.environ | {"PYTHONPATH": str(REPOSITORY), "EXPECTED_PROTECT": str(protect),
                          "EXPECTED_RESULTS": str(results)},
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    document = json.loads(results.read_text())  # written where the object said, with no --results
    assert [(test["name"], test["score"]) for test in document["tests"]] == [("sees the options", 1.0)]
