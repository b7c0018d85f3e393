"""The staff's grading policy: validation, visibility, late penalty, rate limit and identity from metadata.

Metadata fixtures follow Gradescope's ``submission_metadata.json`` layout.
Two gradings of a broken zip (seconds each: every test fails in setup) check
the grade command end to end: the template policy leaves results.json as it
was, and a policy's visibility and identity reach it; the rate limit is
checked end to end without grading (that is its point).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.results import grading_policy
from autograder.results.grading_policy import (
    GradingPolicy,
    LatePolicy,
    PolicyError,
    RateLimit,
    load_policy,
    parse_policy,
)
from autograder.results.document import TestResult, results_document
from autograder.results.schema import schema_problems
from autograder.results.score_policies import (
    RATE_LIMITED_KEY,
    apply_policy,
    is_rate_limited,
    late_penalty,
    rate_limited_document,
)
from autograder.intake.submission_metadata import MetadataError, parse_metadata

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATE = REPOSITORY / "data_scripts" / "templates" / "grading_policy.toml"
DUE = datetime(2026, 3, 1, 23, 0, tzinfo=timezone(timedelta(hours=-8)))


def metadata(created: datetime, previous: list[tuple[datetime, float, dict]] = (), extension: datetime | None = None):
    """A ``submission_metadata.json`` document as Gradescope writes it."""
    user = {"email": "ada@example.edu", "id": 1234, "name": "Ada Lovelace", "sid": "A001"}
    if extension:
        user["assignment"] = {"due_date": extension.isoformat(), "late_due_date": None}
    return {
        "id": 987654,
        "created_at": created.isoformat(),
        "assignment": {"due_date": DUE.isoformat(), "late_due_date": None, "id": 25828, "title": "A5",
                       "total_points": "100.0"},
        "submission_method": "upload",
        "users": [user, {"email": "bo@example.edu", "id": 1235, "name": "Bo Li"}],
        "previous_submissions": [{"submission_time": time.isoformat(), "score": score, "results": results}
                                 for time, score, results in previous],
    }


def graded_results(score: float) -> dict:
    return results_document([TestResult("iou: one box", 100.0, fraction=score / 100, passed=score == 100)],
                            "Graded: folder", 3.0)


# ------------------------------------------------------------ the file
def test_the_template_is_documented_defaults():
    policy = load_policy(TEMPLATE)
    assert policy == GradingPolicy(source=str(TEMPLATE))
    assert not policy.needs_metadata


def test_the_default_file_is_read_when_present(tmp_path, monkeypatch):
    default = tmp_path / "grading_policy.toml"
    monkeypatch.setattr(grading_policy, "DEFAULT_POLICY_PATH", default)
    assert load_policy(None) == GradingPolicy()
    default.write_text("[rate_limit]\nmax_graded = 3\n")
    assert load_policy(None).rate_limit == RateLimit(max_graded=3)


@pytest.mark.parametrize("text, message", [
    ("[late]\npenalty_per_day = 1.5\n", r"\[late\] penalty_per_day: must be a number within \[0, 1\], got 1.5"),
    ("[late]\npenalty = 0.1\n", r"\[late\]: unknown key\(s\) penalty; allowed: grace_minutes, max_penalty"),
    ("[lateness]\n", r"top level: unknown key\(s\) lateness"),
    ("[visibility.stages]\nunits = \"secret\"\n", r"\[visibility.stages\] units: visibility must be one of"),
    ("[visibility.stages]\nlab = \"hidden\"\n", r"\[visibility.stages\] lab: unknown stage; stages: units, notebook"),
    ("[visibility.tests]\n\"iou*\" = 3\n", r"\[visibility.tests\] 'iou\*': visibility must be one of"),
    ("[rate_limit]\nmax_graded = 2.5\n", r"\[rate_limit\] max_graded: must be a whole number >= 0, got 2.5"),
    ("[rate_limit]\nwindow_hours = 0\n", r"\[rate_limit\] window_hours: must be a number > 0, got 0"),
    ("[results]\nstudent_identity = \"yes\"\n", r"\[results\] student_identity: must be true or false"),
    ("[late\n", r"not valid TOML"),
])
def test_invalid_policies_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message) as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_visibility_pattern_then_stage_then_marker():
    policy = parse_policy({"visibility": {"stages": {"notebook": "after_due_date"},
                                          "tests": {"*random*": "hidden", "iou:*": "after_published"}}}, "p")
    visibility = policy.visibility.visibility
    assert visibility("iou: random boxes", "units", "visible") == "hidden"  # the first pattern wins
    assert visibility("iou: one box", "units", "visible") == "after_published"
    assert visibility("notebook: validation mAP", "notebook", "visible") == "after_due_date"
    assert visibility("nms: ties", "units", "visible") == "visible"


# ------------------------------------------------------------- late
LATE = GradingPolicy(late=LatePolicy(penalty_per_day=0.1, max_penalty=0.25, grace_minutes=15))


@pytest.mark.parametrize("after_due, days, fraction", [
    (timedelta(hours=-1), 0, 0.0),
    (timedelta(minutes=14), 0, 0.0),  # within the grace
    (timedelta(minutes=16), 1, 0.1),  # part of a day counts as a day
    (timedelta(days=1, minutes=15), 1, 0.1),
    (timedelta(days=1, minutes=16), 2, 0.2),
    (timedelta(days=6), 6, 0.25),  # capped
])
def test_late_penalty_per_started_day_after_the_grace_with_a_cap(after_due, days, fraction):
    penalty = late_penalty(LATE, parse_metadata(metadata(DUE + after_due), "m"))
    assert (penalty.days, penalty.fraction) == (days, fraction)


def test_late_penalty_is_applied_to_the_score_and_explained():
    document = graded_results(80.0)
    late = apply_policy(document, LATE, parse_metadata(metadata(DUE + timedelta(days=1, hours=2)), "m"))
    assert late["score"] == 64.0 and late["tests"] == document["tests"]
    assert late["output"].startswith("Late policy: submitted 2 days late")
    assert "80 → 64" in late["output"]
    assert late["extra_data"] == {"late": {"days": 2, "penalty": 0.2, "score_before_penalty": 80.0}}
    assert schema_problems(late) == []


def test_an_extension_moves_the_due_date():
    on_time = parse_metadata(metadata(DUE + timedelta(days=2), extension=DUE + timedelta(days=3)), "m")
    assert late_penalty(LATE, on_time).days == 0


def test_default_policy_changes_nothing_even_with_metadata():
    document = graded_results(50.0)
    assert apply_policy(document, GradingPolicy(), parse_metadata(metadata(DUE + timedelta(days=3)), "m")) == document


def test_identity_is_recorded_when_turned_on():
    policy = GradingPolicy(student_identity=True)
    document = apply_policy(graded_results(50.0), policy, parse_metadata(metadata(DUE), "m"))
    assert document["extra_data"] == {"submission_id": "987654", "students": [
        {"name": "Ada Lovelace", "email": "ada@example.edu", "sid": "A001", "id": "1234"},
        {"name": "Bo Li", "email": "bo@example.edu", "sid": "", "id": "1235"}]}


# ------------------------------------------------------- rate limit
RATE = GradingPolicy(rate_limit=RateLimit(max_graded=2, window_hours=24))
NOW = DUE - timedelta(days=2)


def test_rate_limit_counts_graded_submissions_in_the_rolling_window():
    limited_copy = rate_limited_document(RATE, parse_metadata(metadata(NOW, [
        (NOW - timedelta(hours=3), 10.0, graded_results(10.0)),
        (NOW - timedelta(hours=2), 20.0, graded_results(20.0))]), "m"))
    cases = {
        "two in the window": ([(NOW - timedelta(hours=23), 10.0, {}), (NOW - timedelta(hours=1), 20.0, {})], True),
        "one fell out of the window": ([(NOW - timedelta(hours=25), 10.0, {}),
                                        (NOW - timedelta(hours=1), 20.0, {})], False),
        "a rate-limited copy is not a grading": ([(NOW - timedelta(hours=3), 10.0, {}),
                                                  (NOW - timedelta(hours=1), 10.0, limited_copy)], False),
        "no previous submission": ([], False),
    }
    for case, (previous, expected) in cases.items():
        assert is_rate_limited(RATE, parse_metadata(metadata(NOW, previous), "m")) == expected, case
    assert not is_rate_limited(GradingPolicy(), parse_metadata(metadata(NOW, cases["two in the window"][0]), "m"))


def test_over_the_limit_keeps_the_last_graded_results_and_says_when_the_next_counts():
    previous = [(NOW - timedelta(hours=20), 70.0, graded_results(70.0)),
                (NOW - timedelta(hours=2), 40.0, graded_results(40.0))]
    document = rate_limited_document(RATE, parse_metadata(metadata(NOW, previous), "m"))

    assert schema_problems(document) == []
    assert document["score"] == 40.0 and document["tests"] == graded_results(40.0)["tests"]
    assert document["extra_data"] == {RATE_LIMITED_KEY: True}
    assert "2 graded submissions per 24 hours" in document["output"] and "NOT graded" in document["output"]
    next_time = (NOW - timedelta(hours=20) + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M:%S %z")
    assert f"graded if made after {next_time}" in document["output"]
    assert "stays that of your last graded submission" in document["output"]


def test_malformed_metadata_names_the_field():
    with pytest.raises(MetadataError, match=r"m: created_at: expected a time with its UTC offset"):
        parse_metadata({**metadata(NOW), "created_at": "yesterday"}, "m")
    with pytest.raises(MetadataError, match=r"m: previous_submissions\[0\].score: must be a number"):
        parse_metadata(metadata(NOW, [(NOW, "lots", {})]), "m")
    with pytest.raises(MetadataError, match=r"m: users: must be a list of objects"):
        parse_metadata({**metadata(NOW), "users": "ada"}, "m")


# --------------------------------------------------- the grade command
def grade(tmp_path: Path, name: str, *options: str) -> dict:
    upload = tmp_path / "upload.zip"
    upload.write_bytes(b"PK\x03\x04 not really a zip")
    completed = subprocess.run([sys.executable, "-m", "autograder", "grade", str(upload), "--out",
                                str(tmp_path / name), "--units-only", *options],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((tmp_path / name / "results.json").read_text())


def test_grade_command_applies_visibility_and_identity_and_the_template_changes_nothing(tmp_path):
    metadata_path = tmp_path / "submission_metadata.json"
    metadata_path.write_text(json.dumps(metadata(DUE + timedelta(hours=5))))
    policy = tmp_path / "policy.toml"
    policy.write_text('[visibility.stages]\nunits = "after_due_date"\n[visibility.tests]\n"*random*" = "hidden"\n'
                      '[late]\npenalty_per_day = 0.5\n[results]\nstudent_identity = true\n')

    plain = grade(tmp_path, "plain")
    template = grade(tmp_path, "template", "--policy", str(TEMPLATE), "--metadata", str(metadata_path))
    staff = grade(tmp_path, "staff", "--policy", str(policy), "--metadata", str(metadata_path))

    assert {**template, "execution_time": 0} == {**plain, "execution_time": 0}
    assert "extra_data" not in plain
    visibilities = {test["name"]: test["visibility"] for test in staff["tests"]}
    assert {visibilities[name] for name in visibilities if "random" in name} == {"hidden"}
    assert {visibilities[name] for name in visibilities if "random" not in name} == {"after_due_date"}
    assert staff["extra_data"]["students"][0]["name"] == "Ada Lovelace"
    assert staff["extra_data"]["late"]["days"] == 1  # score 0 stays 0, but the lateness is recorded


def test_grade_command_over_the_rate_limit_does_not_grade(tmp_path):
    metadata_path = tmp_path / "submission_metadata.json"
    metadata_path.write_text(json.dumps(metadata(NOW, [(NOW - timedelta(hours=1), 55.0, graded_results(55.0))])))
    policy = tmp_path / "policy.toml"
    policy.write_text("[rate_limit]\nmax_graded = 1\n")

    document = grade(tmp_path, "limited", "--policy", str(policy), "--metadata", str(metadata_path))

    assert document["score"] == 55.0 and document["extra_data"] == {RATE_LIMITED_KEY: True}
    assert "NOT graded" in document["output"]


def test_grade_command_refuses_a_bad_policy_with_its_message(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[late]\npenalty_per_day = -1\n")
    completed = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path), "--out",
                                str(tmp_path / "out"), "--policy", str(policy)],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert f"{policy}: [late] penalty_per_day: must be a number within [0, 1], got -1" in completed.stderr


# ------------------------------------------------------ run_autograder
RECORDING_PYTHON = """#!/bin/sh
if [ "$2" = autograder.results.schema ]; then exit 0; fi
printf '%s\\n' "$@" > "$ARGS_FILE"
"""


@pytest.mark.parametrize("with_metadata", [True, False], ids=["metadata", "no-metadata"])
def test_run_autograder_passes_gradescopes_metadata_when_there_is_one(tmp_path, monkeypatch, with_metadata):
    from autograder import cli
    from data_scripts.gradescope_bundle import bundle_members

    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    script = root / "source" / "run_autograder"
    script.write_bytes(bundle_members("0123456789abcdef0123456789abcdef")["run_autograder"])
    script.chmod(0o755)
    python = tmp_path / "python"
    python.write_text(RECORDING_PYTHON)
    python.chmod(0o755)
    if with_metadata:
        (root / "submission_metadata.json").write_text(json.dumps(metadata(NOW)))

    completed = subprocess.run([str(script)], env={"PATH": "/usr/bin:/bin", "AUTOGRADER_ROOT": str(root),
                                                   "AUTOGRADER_PYTHON": str(python),
                                                   "ARGS_FILE": str(tmp_path / "args")},
                               capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    arguments = (tmp_path / "args").read_text().splitlines()
    received = []
    monkeypatch.setattr(cli, "grade_submission", lambda options: received.append(options) or 0)
    assert cli.main(arguments[2:]) == 0
    assert received[0].metadata == (root / "submission_metadata.json" if with_metadata else None)
