"""The sandbox against the adversarial corpus (tests/grading_corpus/adversarial/).

One hostile submission holds every runtime attack: the functions of
``sandbox_calls/`` and the graded corpus's attacks that act only when called
(``CALLED_ATTACKS``, each renamed after itself) are concatenated into its
two_stage_detector.py.  Import-time attacks each get their own submission.
Functions are called through the generic ``raw_calls.call_definition`` probe.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.sandbox import confinement, process_control, worker
from autograder.sandbox import client as sandbox_module
from autograder.errors import (
    ERROR_CLASS_BY_KIND,
    PROBE_ERRORS,
    Crashed,
    InvalidOutput,
    MissingDefinition,
    NotImplementedByStudent,
    OutOfMemory,
    SandboxError,
    StudentException,
    SubmissionFormatError,
    SubmissionImportError,
    Timeout,
)
from autograder.sandbox.client import Sandbox
from grading_corpus.adversarial import ATTACKS_BY_NAME, ATTACKS_DIR, PLACEHOLDERS

REPOSITORY = Path(__file__).resolve().parent.parent
CORPUS = ATTACKS_DIR / "sandbox_calls"
IMPORT_TIME_ATTACKS = {
    "syntax_error": CORPUS / "import_time" / "syntax_error.py.txt",
    "crash_on_import": CORPUS / "import_time" / "crash_on_import.py",
    "exit_at_import": ATTACKS_DIR / "exit_at_import.py",
    "bad_common_import": CORPUS / "import_time" / "bad_common_import.py",
}
# Graded-corpus attacks on iou that act only when called, called here by their own name.
CALLED_ATTACKS = ("reduce_object_output", "tensor_subclass_output", "sys_exit_in_function", "os_exit_in_function",
                  "memory_hog")
PWNED_TOKEN = "autograder"  # the attacks' @TOKEN@: code they smuggle out would create /tmp/<token>-pwned
HOSTILE_COMMON = textwrap.dedent('''\
    """Hostile submission: common.py."""
    import torch


    def nms(boxes, scores, iou_threshold=0.5):
        raise NotImplementedError
''')
MEMORY_LIMIT_MB = 256
MAX_PROCESSES = 16
MAX_RESULT_BYTES = 1024 * 1024
SHORT_TIMEOUT_S = 1.5
AS_ROOT = os.geteuid() == 0
PWNED_MARKER = Path(f"/tmp/{PWNED_TOKEN}-pwned")


def write_submission(folder: Path, detector_source: str, common_source: str = HOSTILE_COMMON) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "common.py").write_text(common_source)
    (folder / "two_stage_detector.py").write_text(detector_source)
    return folder


def hostile_detector_source() -> str:
    parts = [(CORPUS / "well_behaved.py").read_text()]
    parts += [path.read_text() for path in sorted(CORPUS.glob("*.py")) if path.name != "well_behaved.py"]
    values = {placeholder: PWNED_TOKEN if placeholder == "@TOKEN@" else "/nonexistent" for placeholder in PLACEHOLDERS}
    parts += [ATTACKS_BY_NAME[name].as_function(values) for name in CALLED_ATTACKS]
    return "from common import *\n" + "\n\n".join(parts)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Sandbox:
    folder = write_submission(tmp_path_factory.mktemp("hostile"), hostile_detector_source())
    protected = [REPOSITORY / "autograder", REPOSITORY / "reference"]
    with Sandbox(folder, memory_mb=MEMORY_LIMIT_MB, max_processes=MAX_PROCESSES,
                 max_result_bytes=MAX_RESULT_BYTES, protected_paths=protected) as sandbox:
        yield sandbox


def run(sandbox: Sandbox, name: str, *args, timeout_s: float | None = None, **kwargs):
    return sandbox.call("raw_calls.call_definition", timeout_s=timeout_s, name=name, args=list(args), kwargs=kwargs)["value"]


# ------------------------------------------------------------------ normal
def test_call_returns_tensors_and_plain_values(hostile):
    value = run(hostile, "describe", torch.arange(6.0).reshape(2, 3))

    assert torch.equal(value["sum"], torch.tensor(15.0))
    assert value["shape"] == (2, 3)
    assert value == value | {"label": "ok", "flag": True, "nothing": None, "items": [1, 2.5]}


def test_tensors_round_trip_exactly(hostile):
    tensors = [torch.randn(3, 4), torch.arange(5), torch.tensor([True, False]), torch.zeros(0, 4),
               torch.randn(2).to(torch.bfloat16), torch.tensor(7.5, dtype=torch.float64)]
    for tensor in tensors:
        echoed = run(hostile, "add", tensor, torch.zeros((), dtype=tensor.dtype))
        assert echoed.dtype == tensor.dtype and torch.equal(echoed, tensor)


def test_bytes_and_dtypes_cross_the_sandbox_both_ways(hostile):
    assert run(hostile, "add", b"\x00\xff", b"!") == b"\x00\xff!"
    zeros, dtype = run(hostile, "zeros_of", dtype=torch.float64)
    assert dtype is torch.float64 and zeros.dtype == torch.float64


def test_calls_are_independent_and_seeded(hostile):
    assert run(hostile, "count_calls") == 1
    assert run(hostile, "count_calls") == 1
    assert torch.equal(run(hostile, "random_numbers"), run(hostile, "random_numbers"))


def test_student_code_can_import_any_installed_module(hostile):
    assert run(hostile, "import_module_nobody_preloaded") == "wave"
    assert hostile.isolation.warnings == ()


def test_printed_output_is_ignored(hostile):
    assert torch.equal(run(hostile, "chatty", torch.ones(2)), torch.full((2,), 2.0))


# --------------------------------------------------------------- failures
def test_not_implemented_stub(hostile):
    with pytest.raises(NotImplementedByStudent, match=r"common\.py:6 in nms"):
        run(hostile, "nms", torch.zeros(1, 4), torch.zeros(1))


def test_not_implemented_raised_by_torch_is_a_plain_exception(hostile):
    with pytest.raises(StudentException, match="forward"):
        run(hostile, "forgot_forward")


def test_missing_definition_suggests_close_names(hostile):
    with pytest.raises(MissingDefinition, match=r"`nmss` is not defined.*Did you mean: nms"):
        run(hostile, "nmss")
    with pytest.raises(MissingDefinition, match=r"`iou` is not defined in two_stage_detector\.py"):
        hostile.call("raw_calls.call_iou", boxes1=torch.zeros(1, 4), boxes2=torch.zeros(1, 4))


def test_student_exception_points_at_student_line(hostile):
    with pytest.raises(StudentException) as raised:
        run(hostile, "divide_by_zero")

    message = str(raised.value)
    assert "ZeroDivisionError" in message
    assert "two_stage_detector.py:" in message and "in divide_by_zero" in message
    assert "/tmp" not in message and "autograder/" not in message


def test_failure_messages_are_deterministic(hostile):
    messages = []
    for _ in range(2):
        with pytest.raises(StudentException) as raised:
            run(hostile, "missing_helper_stub", torch.ones(1))
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "NameError" in messages[0]


def test_infinite_loop_times_out_and_the_next_call_works(hostile):
    with pytest.raises(Timeout, match="time limit"):
        run(hostile, "loop_forever", timeout_s=SHORT_TIMEOUT_S)

    assert torch.equal(run(hostile, "add", torch.ones(1), torch.ones(1)), torch.tensor([2.0]))


@pytest.mark.parametrize("name", ["os_exit_in_function", "sys_exit_in_function"])
def test_exiting_is_a_crash_never_a_success(hostile, name):
    with pytest.raises(Crashed):
        run(hostile, name, torch.zeros(1, 4), torch.zeros(1, 4))


def test_segfault_is_a_crash_with_the_last_output(hostile):
    with pytest.raises(Crashed, match=r"SIGSEGV(.|\n)*about to crash"):
        run(hostile, "crash_with_segfault")


@pytest.mark.parametrize("name, args", [("memory_hog", [torch.zeros(1, 4), torch.zeros(1, 4)]),
                                        ("allocate_huge_tensor", [])])
def test_memory_hog_runs_out_of_memory(hostile, name, args):
    with pytest.raises(OutOfMemory, match=f"{MEMORY_LIMIT_MB} MiB"):
        run(hostile, name, *args)


def test_fork_bomb_is_contained(hostile):
    outcome = run(hostile, "fork_until_refused")
    slack = 0 if AS_ROOT else MAX_PROCESSES  # non-root: other processes of our uid come and go
    assert outcome["refused"] and outcome["forked"] <= MAX_PROCESSES + slack

    with pytest.raises(Timeout):
        run(hostile, "fork_bomb", timeout_s=SHORT_TIMEOUT_S)
    assert process_control.descendant_pids(hostile.zygote_pid) == set()
    assert run(hostile, "add", 1, 2) == 3


def test_background_process_does_not_survive_the_call(hostile):
    daemon = run(hostile, "spawn_daemon")

    assert not Path(f"/proc/{daemon}").exists()
    assert process_control.descendant_pids(hostile.zygote_pid) == set()


def test_forged_results_have_no_effect(hostile, tmp_path):
    results = tmp_path / "results.json"
    results.write_text("{}")
    stray = Path.cwd() / "results.json"
    existed_before = stray.exists()

    outcome = run(hostile, "forge_results", str(results))

    assert stray.exists() == existed_before  # the worker wrote into its private directory
    if AS_ROOT:
        assert outcome.startswith("denied") and results.read_text() == "{}"


def test_monkeypatching_in_the_worker_does_not_reach_the_grader(hostile):
    original_fail = pytest.fail

    assert run(hostile, "tamper_with_grader") is True

    assert pytest.fail is original_fail
    assert not torch.allclose(torch.zeros(1), torch.ones(1))
    assert run(hostile, "is_close_to_itself_plus_one", torch.zeros(1)) is False


@pytest.mark.skipif(not AS_ROOT, reason="non-root isolation is best effort: grader files stay readable")
def test_grader_files_are_hidden_from_student_code(hostile, tmp_path):
    golden = tmp_path / "golden"
    golden.mkdir(mode=0o700)
    (golden / "fixture.json").write_text('{"expected": 42}')

    targets = [REPOSITORY / "autograder" / "plugin.py", golden / "fixture.json"]
    if (REPOSITORY / "reference" / "common.py").exists():
        targets.append(REPOSITORY / "reference" / "common.py")
    if hostile.isolation.private_mounts:
        for target in targets:
            assert run(hostile, "read_file", str(target)).startswith("denied"), target
        assert run(hostile, "list_directory", str(REPOSITORY / "autograder")).startswith("denied")
        assert hostile.isolation.warnings == ()
    else:  # permissions only: the 0700 fixture is safe, the rest is reported loudly
        assert run(hostile, "read_file", str(golden / "fixture.json")).startswith("denied")
        assert any("exposed" in warning for warning in hostile.isolation.warnings)


@pytest.mark.skipif(not AS_ROOT, reason="namespaces need root")
def test_worker_root_is_an_allowlist(hostile):
    """No repository (so no .git), no home folder, no host-writable folder; the interpreter still runs."""
    if not hostile.isolation.private_mounts:
        pytest.skip("this host forbids private mount namespaces")
    top_level = run(hostile, "list_directory", "/")
    system_folders = {"dev", "etc", "lib", "lib32", "lib64", "proc", "sys", "tmp", "usr"}
    leading_to_python = {Path(path).parts[1] for path in (sys.executable, *sys.path) if path.startswith("/")}

    assert set(top_level) <= system_folders | leading_to_python, top_level
    assert run(hostile, "list_directory", str(REPOSITORY)) in ([".venv"], "denied: FileNotFoundError")
    for path in (REPOSITORY / ".git", REPOSITORY / "tests", REPOSITORY / "docs", Path("/run/lock"), Path("/home"),
                 Path("/var/tmp")):
        assert run(hostile, "list_directory", str(path)).startswith("denied"), path
    assert run(hostile, "list_directory", "/etc") == ["ld.so.cache"]
    python_folders = [sysconfig.get_paths()[name] for name in ("stdlib", "purelib", "platlib")]
    everywhere = ["/", "/etc", "/usr/lib", "/dev", "/proc", "/tmp", "/dev/shm", *python_folders]
    assert run(hostile, "writable_folders", everywhere) == ["/tmp", "/dev/shm"]
    assert run(hostile, "run_program", ["git", "--version"]).startswith("failed")
    assert run(hostile, "run_program", [sys.executable, "-c", "import torch; print(1 + 1)"]) == "exit 0: 2\n"


def test_zygote_imports_the_grader_from_a_private_copy_outside_the_repository(hostile):
    staged = Path(run(hostile, "grader_module_file")).parents[2]  # the folder holding autograder/ (…/autograder/sandbox/worker.py)
    import_path = [Path(path).resolve() for path in run(hostile, "import_path") if path]

    assert not staged.is_relative_to(REPOSITORY) and (staged / "autograder" / "probes" / "networks.py").is_file()
    assert all((staged / "autograder" / package / "__init__.py").is_file()
               for package in ("intake", "sandbox", "units", "notebook", "results", "batch"))
    assert not (staged / "synthetic_voc").exists()  # the generator of the secret validation split stays out
    assert (staged.stat().st_mode & 0o077) == 0, "only the grader's user may read the copy"
    assert not list(staged.rglob("test_*.py")) and not (staged / "autograder" / "fixtures").exists()
    assert REPOSITORY not in import_path and staged.resolve() not in import_path


@pytest.mark.skipif(not AS_ROOT, reason="permissions protect nothing from the grader's own uid")
@pytest.mark.filterwarnings("ignore:.*cannot read Python's import path")  # hosts with Python in a private home
def test_without_namespaces_permissions_protect_and_exposure_is_reported(tmp_path, request):
    golden = tmp_path / "golden"
    golden.mkdir(mode=0o700)
    (golden / "fixture.json").write_text('{"expected": 42}')
    folder = write_submission(tmp_path / "submission", hostile_detector_source())
    # World-readable, in the shared /tmp (pytest's tmp_path is root-only, and so may the checkout be).
    readable_grader_dir = Path(tempfile.mkdtemp(prefix="autograder-readable-grader-"))
    readable_grader_dir.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(readable_grader_dir, ignore_errors=True))

    with Sandbox(folder, use_namespaces=False, protected_paths=[golden, readable_grader_dir]) as sandbox:
        with pytest.warns(UserWarning, match="grader files are exposed"):
            assert sandbox.isolation.as_root and not sandbox.isolation.private_mounts
        assert run(sandbox, "read_file", str(golden / "fixture.json")).startswith("denied")
        assert any("grader files are exposed" in warning and str(readable_grader_dir) in warning
                   for warning in sandbox.isolation.warnings)
        assert "protected by file permissions only" in sandbox.isolation.summary
        daemon = run(sandbox, "spawn_daemon")
        assert not Path(f"/proc/{daemon}").exists()
        assert run(sandbox, "add", 1, 2) == 3


@pytest.mark.parametrize("has_pidfd", [True, False])
def test_wait_with_timeout_kills_at_the_deadline(monkeypatch, has_pidfd):
    if not has_pidfd:  # kernels before 5.3
        monkeypatch.setattr(os, "pidfd_open", lambda pid: (_ for _ in ()).throw(OSError(38, "ENOSYS")))
    quick = subprocess.Popen(["sh", "-c", "exit 3"])
    slow = subprocess.Popen(["sleep", "30"], start_new_session=True)

    assert process_control.wait_with_timeout(quick.pid, 10)[:2] == (3 << 8, False)
    status, timed_out, _ = process_control.wait_with_timeout(slow.pid, 0.2)
    assert timed_out and os.WTERMSIG(status) == 9


@pytest.mark.skipif(not AS_ROOT, reason="only root can start processes as another uid")
def test_every_process_of_a_sandbox_uid_can_be_killed():
    uid = 3_000_000 + secrets.randbelow(1_000_000)
    sleepers = [subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[]) for _ in range(3)]
    assert process_control.uid_in_use(uid)

    process_control.kill_all_processes_of_uid(uid)

    assert [sleeper.wait(timeout=10) for sleeper in sleepers] == [-9, -9, -9]
    assert not process_control.uid_in_use(uid)


@pytest.mark.skipif(not AS_ROOT, reason="only root can protect the grader from its own uid")
def test_worker_cannot_kill_the_zygote_as_root(hostile):
    assert run(hostile, "kill_parent") == "parent survived"


@pytest.mark.parametrize("name, args", [("reduce_object_output", [torch.zeros(1, 4), torch.zeros(1, 4)]),
                                        ("tensor_subclass_output", [torch.zeros(1, 4), torch.zeros(1, 4)]),
                                        ("return_numpy_array", [])])
def test_malicious_objects_are_invalid_output_and_never_executed(hostile, name, args):
    PWNED_MARKER.unlink(missing_ok=True)

    with pytest.raises(InvalidOutput, match="cannot accept"):
        run(hostile, name, *args)

    assert not PWNED_MARKER.exists()


def test_huge_output_is_invalid(hostile):
    with pytest.raises(InvalidOutput, match="larger than"):
        run(hostile, "return_huge_tensor", 2 * MAX_RESULT_BYTES)


def test_grader_misuse_is_not_blamed_on_the_student(hostile):
    with pytest.raises(ValueError, match="module.function"):
        hostile.call("call_definition")
    with pytest.raises(SandboxError, match="unknown probe"):
        hostile.call("raw_calls.no_such_probe")
    with pytest.raises(TypeError, match="cannot send"):
        hostile.call("raw_calls.call_definition", name="add", args=[object()])


@pytest.mark.parametrize("error_class", PROBE_ERRORS, ids=lambda cls: cls.__name__)
def test_a_probe_error_is_raised_again_as_the_same_class_with_its_message(tmp_path, error_class):
    """One vocabulary across the boundary: the worker reports a kind, the grader maps it back."""
    class RaisedByAProbe(error_class):  # a subclass keeps its base's kind
        pass

    limits = confinement.Limits(memory_mb=256, cpu_s=10, file_size_mb=1, max_processes=1, max_open_files=64)
    text = "`nmss` is not defined in common.py."
    for error in (error_class(text), RaisedByAProbe(text)):
        kind, message = worker.classify(error, str(tmp_path), limits)
        assert ERROR_CLASS_BY_KIND[kind] is error_class and message == text


# ------------------------------------------------------------- import time
@pytest.fixture(scope="module")
def broken_on_import(tmp_path_factory) -> dict[str, Sandbox]:
    """One sandbox per import-time attack, started together so the zygotes warm up in parallel."""
    sandboxes = {
        name: Sandbox(write_submission(tmp_path_factory.mktemp(name), attack.read_text()))
        for name, attack in IMPORT_TIME_ATTACKS.items()
    }
    yield sandboxes
    for sandbox in sandboxes.values():
        sandbox.close()


@pytest.mark.parametrize("attack, expected", [
    ("syntax_error", r"syntax error(.|\n)*two_stage_detector\.py\", line 3"),
    ("crash_on_import", r"two_stage_detector\.py:4 in <module>(.|\n)*IndexError"),
    ("exit_at_import", r"called sys\.exit\(\) at two_stage_detector\.py:4"),
    ("bad_common_import", r"two_stage_detector\.py:1 in <module>(.|\n)*does_not_exist"),
])
def test_import_time_failures_name_file_and_line(broken_on_import, attack, expected):
    with pytest.raises(SubmissionImportError, match=expected):
        broken_on_import[attack].call("raw_calls.call_iou", boxes1=torch.zeros(1, 4), boxes2=torch.zeros(1, 4))


def test_zygote_that_cannot_start_is_a_grader_failure(tmp_path, monkeypatch):
    folder = write_submission(tmp_path / "submission", "def iou(a, b):\n    return a\n")
    broken_python = tmp_path / "python"
    broken_python.write_text("#!/bin/sh\necho 'zygote: cannot import torch' >&2\nexit 3\n")
    broken_python.chmod(0o755)
    monkeypatch.setattr(sandbox_module.sys, "executable", str(broken_python))
    sandbox = Sandbox(folder)

    for _ in range(sandbox_module.MAX_FAILED_STARTS):
        with pytest.raises(SandboxError, match="failed to start(.|\n)*cannot import torch"):
            sandbox.call("raw_calls.call_definition", name="iou", args=[1, 2])
    with pytest.raises(SandboxError, match="giving up"):
        sandbox.call("raw_calls.call_definition", name="iou", args=[1, 2])
    sandbox.close()


def test_missing_submission_file_is_a_format_error(tmp_path):
    (tmp_path / "common.py").write_text("")
    with pytest.raises(SubmissionFormatError, match="two_stage_detector.py is missing"):
        Sandbox(tmp_path)


def test_hints_never_run_on_values_far_larger_than_expected():
    from autograder.units.judge import JudgeError, check_tensor

    seen = []
    hint = lambda actual, expected: seen.append(actual.shape) or "a hint"  # noqa: E731
    with pytest.raises(JudgeError) as far_larger:
        check_tensor("nms(...)", torch.empty(10**6, 0, dtype=torch.long), torch.arange(3), integer=True, hints=[hint])
    with pytest.raises(JudgeError, match="a hint"):
        check_tensor("nms(...)", torch.arange(5), torch.arange(3), integer=True, hints=[hint])

    assert "a hint" not in str(far_larger.value) and seen == [torch.Size([5])]


# ------------------------------------------------------------------ non-root
NON_ROOT_SCRIPT = textwrap.dedent('''\
    import json, sys, torch
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox import process_control
    from autograder.errors import Crashed, Timeout

    def run(sandbox, name, *args, timeout_s=None):
        return sandbox.call("raw_calls.call_definition", timeout_s=timeout_s, name=name, args=list(args))["value"]

    report = {}
    with Sandbox(sys.argv[1], max_processes=16) as sandbox:
        report["as_root"] = sandbox.isolation.as_root
        report["add"] = run(sandbox, "add", 1, 2)
        try:
            run(sandbox, "loop_forever", timeout_s=1)
        except Timeout:
            report["timeout"] = True
        daemon = run(sandbox, "spawn_daemon")
        report["daemon_gone"] = not __import__("os").path.exists(f"/proc/{daemon}")
        report["fork"] = run(sandbox, "fork_until_refused")
        report["leftovers"] = sorted(process_control.descendant_pids(sandbox.zygote_pid))
        try:
            run(sandbox, "kill_parent")
        except Crashed:
            report["zygote_killed"] = True
        report["after_restart"] = run(sandbox, "add", 2, 3)
    print(json.dumps(report))
''')


@pytest.fixture
def unprivileged_workspace():
    """A directory owned by a fresh unprivileged uid (outside pytest's root-only tmp)."""
    uid = 3_000_000 + secrets.randbelow(1_000_000)
    folder = Path(tempfile.mkdtemp(prefix="autograder-non-root-"))
    write_submission(folder / "submission", hostile_detector_source())
    for path in (folder, folder / "submission", *(folder / "submission").iterdir()):
        os.chown(path, uid, uid)
    yield uid, folder
    shutil.rmtree(folder, ignore_errors=True)


def become_user_who_can_run_python(uid: int):
    """``preexec_fn``: switch to ``uid``, first exposing this Python if it lives in a private home."""
    interpreter = [os.path.dirname(os.path.realpath(sys.executable)), os.path.join(sys.base_prefix, "lib")]
    needed = sorted({os.path.realpath(path) for path in interpreter + sys.path if path and os.path.isdir(path)})

    def switch() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(confinement.CLONE_NEWNS) == 0:
            libc.mount(b"none", b"/", None, ctypes.c_ulong(confinement.MS_REC | confinement.MS_PRIVATE), None)
            confinement.expose_paths(needed)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return switch


@pytest.mark.skipif(not AS_ROOT, reason="needs root to start a process as another user")
def test_best_effort_isolation_without_root(unprivileged_workspace):
    uid, folder = unprivileged_workspace
    as_user = dict(preexec_fn=become_user_who_can_run_python(uid), cwd=folder, capture_output=True, text=True,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPOSITORY),
                        "HOME": str(folder)})
    try:
        probe = subprocess.run([sys.executable, "-c", "import autograder.sandbox.client"], timeout=120, **as_user)
    except (OSError, subprocess.SubprocessError) as error:  # e.g. a checkout only root can enter (mktemp -d)
        probe = subprocess.CompletedProcess([], 1, "", str(error))
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"uid {uid} cannot run {sys.executable} with the repository {REPOSITORY}: {reason}")

    completed = subprocess.run([sys.executable, "-c", NON_ROOT_SCRIPT, str(folder / "submission")],
                               timeout=300, **as_user)

    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.splitlines()[-1])
    assert report["as_root"] is False
    assert report["add"] == 3 and report["timeout"] and report["daemon_gone"]
    assert report["fork"]["refused"] and report["leftovers"] == []
    assert report["zygote_killed"] and report["after_restart"] == 5


def test_self_check_does_not_report_the_interpreter_inside_a_protected_folder(tmp_path, monkeypatch):
    """A virtual environment inside the course repository is the workers' allowlisted interpreter."""
    from autograder.probes.self_check import exposed_files

    repository = tmp_path / "course"
    (repository / ".venv" / "lib").mkdir(parents=True)
    (repository / ".venv" / "lib" / "torch.py").write_text("# the interpreter's packages\n")
    (repository / "reference").mkdir()
    (repository / "reference" / "common.py").write_text("# the solution\n")
    monkeypatch.setattr(sys, "prefix", str(repository / ".venv"))

    exposed = exposed_files(None, [str(repository)])

    assert exposed["readable"] == [str(repository / "reference" / "common.py")]
    assert str(repository) in exposed["listable"]  # it shows reference/, not only the way to .venv
