"""The staff's case secret: it decides the cases with the content, and student code never sees it."""
import hashlib
import os
import subprocess

import pytest

from autograder.units.case_secret import CASE_SECRET_VARIABLE, content_seed
from autograder.sandbox.client import Sandbox
from data_scripts.gradescope_bundle import BundleError, read_or_create_case_secret
from grading_corpus.adversarial.sandbox_calls.secret_reader import processes_whose_environment_holds
from test_sandbox import hostile_detector_source, run, write_submission

SECRET = "5e3c7a1f0b9d42e68c1a7f3e9b2d4c60"
FILES = [b"def iou(a, b):\n    ...\n", b"def nms(b, s):\n    ...\n"]


def test_without_a_secret_the_seed_is_the_contents_digest():
    assert content_seed(FILES, b"") == int.from_bytes(hashlib.sha256(b"".join(FILES)).digest()[:4], "little")


def test_the_secret_changes_the_seed_and_the_same_secret_keeps_it():
    seeds = {secret: content_seed(FILES, secret) for secret in (b"", b"course-a", b"course-b")}
    assert len(set(seeds.values())) == 3
    assert content_seed(FILES, b"course-a") == seeds[b"course-a"]


def test_bytes_moved_between_files_change_the_seed():
    assert content_seed([b"ab", b"c"], b"k") != content_seed([b"a", b"bc"], b"k")


def test_bundle_secret_file_is_created_private_then_reused(tmp_path):
    path = tmp_path / "build" / "case_secret.txt"
    secret, created = read_or_create_case_secret(path)
    assert created and len(secret) == 64 and path.stat().st_mode & 0o077 == 0
    assert read_or_create_case_secret(path) == (secret, False)


@pytest.mark.parametrize("content", ["", "two words here, too short", "x" * 300])
def test_unusable_secret_file_is_refused_with_its_path(tmp_path, content):
    path = tmp_path / "case_secret.txt"
    path.write_text(content)
    with pytest.raises(BundleError, match="case_secret.txt: a case secret must be one word"):
        read_or_create_case_secret(path)


@pytest.fixture
def grader_like_process():
    """A process started with the secret in its environment, as the grader is (/proc/PID/environ holds it)."""
    process = subprocess.Popen(["sleep", "120"], env={**os.environ, CASE_SECRET_VARIABLE: SECRET})
    yield process
    process.kill()
    process.wait()


def test_student_code_cannot_read_the_secret(tmp_path, monkeypatch, grader_like_process):
    monkeypatch.setenv(CASE_SECRET_VARIABLE, SECRET)
    with Sandbox(write_submission(tmp_path / "submission", hostile_detector_source())) as sandbox:
        assert run(sandbox, "environment_value", CASE_SECRET_VARIABLE) is None
        assert run(sandbox, "processes_whose_environment_holds", SECRET) == []
    if os.geteuid() == 0:  # control: the same search, run by the grader, does find it
        assert grader_like_process.pid in processes_whose_environment_holds(SECRET)
