"""The grader's own memory limit: trusted work that goes wrong fails one test, not the whole grade.

The grader judges untrusted outputs in its own process (hints, reference
computations, mAP).  Transfer caps (``safe_transfer``) bound what arrives; this
bounds what the grader then builds from it, whatever the bug: an allocation
past the limit raises ``MemoryError`` (or torch's "can't allocate memory") in
the test that made it, which is recorded as a grader failure with its own
message, and results.json is still written.  Without it, the kernel's OOM
killer would end the grade with no results.json at all.

The limit is on private writable memory (``RLIMIT_DATA``, soft only: the
grader's children get the hard limit back), relative to what the process
already holds.  Not the address space: torch maps several GiB of libraries and
reservations it never writes, and glibc reserves 64 MiB per thread arena.
Too small a limit does not fail cleanly (a thread that cannot get its stack
ends the process), hence a headroom far above the grader's needs.
"""
from __future__ import annotations

import os
import resource

from autograder.sandbox.confinement import own_memory_bytes

GRADER_MEMORY_MB = 4096  # 8x the grader's measured peak (511 MB PSS, benchmarks/full_grade_budget.py)
GRADER_MEMORY_VARIABLE = "AUTOGRADER_GRADER_MEMORY_MB"  # staff override; the tests use a small one
OUT_OF_MEMORY_TEXT = ("The grader ran out of its own memory ({limit_mb} MB) while judging this test, so the test "
                      "could not be graded; please tell the course staff.")
_TORCH_OUT_OF_MEMORY = "can't allocate memory"  # torch's DefaultCPUAllocator message


def grader_memory_mb() -> int:
    """The headroom for the grader's own allocations: the staff's override, else ``GRADER_MEMORY_MB``."""
    value = os.environ.get(GRADER_MEMORY_VARIABLE, "")
    if not value:
        return GRADER_MEMORY_MB
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{GRADER_MEMORY_VARIABLE} must be a whole number of MB, got {value!r}")
    return int(value)


def limit_own_memory(headroom_mb: int) -> None:
    """Set this process's soft data limit to what it holds now plus ``headroom_mb``."""
    soft = own_memory_bytes("VmData") + headroom_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def release_child(pid: int) -> None:
    """Give a child process started after ``limit_own_memory`` the hard limit back as its soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.prlimit(pid, resource.RLIMIT_DATA, (hard, hard))


def is_out_of_memory(error: BaseException | None) -> bool:
    return isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and _TORCH_OUT_OF_MEMORY in str(error))
