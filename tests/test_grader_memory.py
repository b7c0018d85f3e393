"""The grader's own memory limit (autograder/sandbox/grader_memory.py): a runaway allocation in trusted code fails its
test as a grader failure with its own message, and results.json is still written."""
import os
import subprocess
import sys
import textwrap

import pytest

from autograder.sandbox.grader_memory import GRADER_MEMORY_VARIABLE, is_out_of_memory
from test_results import FAKE_COMMON, FAKE_DETECTOR, by_name, run_suite

HEADROOM_MB = 256
RUNAWAY_MB = 1024  # a quarter of the default headroom: it would succeed without the small limit

RUNAWAY_SUITE = textwrap.dedent(f'''\
    import pytest
    import torch


    @pytest.mark.points(1, tags=("iou",))
    def test_runaway():
        """runaway trusted allocation"""
        torch.ones({RUNAWAY_MB} * 2**20 // 4)


    @pytest.mark.points(1, tags=("iou",))
    def test_afterwards():
        """a test after it"""
        assert torch.ones(1000).sum() == 1000
''')


def test_runaway_allocation_is_a_grader_failure_with_results(tmp_path, monkeypatch):
    monkeypatch.setenv(GRADER_MEMORY_VARIABLE, str(HEADROOM_MB))
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "common.py").write_text(FAKE_COMMON)
    (submission / "two_stage_detector.py").write_text(FAKE_DETECTOR)

    completed, document = run_suite(tmp_path, submission, RUNAWAY_SUITE)

    tests = by_name(document)
    assert tests["a test after it"]["score"] == 1
    assert tests["runaway trusted allocation"]["score"] == 0
    assert tests["runaway trusted allocation"]["output"].startswith(
        f"The grader ran out of its own memory ({HEADROOM_MB} MB) while judging this test")
    assert completed.returncode == pytest.ExitCode.INTERNAL_ERROR  # staff must look
    assert "please tell the course staff" in document["output"]


def test_children_get_the_hard_limit_back():
    script = textwrap.dedent('''\
        import resource, subprocess
        from autograder.sandbox import grader_memory
        grader_memory.limit_own_memory(64)
        child = subprocess.Popen(["sleep", "30"])
        before = resource.prlimit(child.pid, resource.RLIMIT_DATA)[0]
        grader_memory.release_child(child.pid)
        after = resource.prlimit(child.pid, resource.RLIMIT_DATA)[0]
        child.kill()
        print(before == resource.getrlimit(resource.RLIMIT_DATA)[0], after == resource.RLIM_INFINITY)
    ''')
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                               env=os.environ)
    assert completed.stdout.split() == ["True", "True"], completed.stderr


def test_out_of_memory_errors_are_recognised():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: "
                                         "can't allocate memory: you tried to allocate 4294967296 bytes."))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(None)
