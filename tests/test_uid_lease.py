"""Sandbox uid leases: two graders on one machine never run sandboxes under the same uid."""
import os

import pytest

from autograder.sandbox import uid_lease, zygote


@pytest.fixture
def lease_parent(tmp_path, monkeypatch):
    monkeypatch.setattr(uid_lease, "LEASE_PARENTS", (str(tmp_path),))
    return tmp_path


def test_a_held_lease_is_refused_until_released(lease_parent):
    directory = uid_lease.lease_directory()
    assert oct(os.stat(directory).st_mode & 0o777) == "0o700"
    first = uid_lease.lease(1_234_567, directory)
    assert first is not None
    assert uid_lease.lease(1_234_567, directory) is None  # another open file: flock conflicts
    assert uid_lease.lease(1_234_568, directory) is not None
    os.close(first)
    assert uid_lease.lease(1_234_567, directory) is not None


def test_choose_sandbox_uid_skips_a_uid_leased_elsewhere(lease_parent, monkeypatch):
    low, high = next((low, high) for low, high in zygote.SANDBOX_UID_RANGES
                     if any(start <= low and high <= start + count for start, count in zygote._mapped_uid_ranges()))
    draws = iter([11, 11, 12])
    monkeypatch.setattr(zygote.secrets, "randbelow", lambda _: next(draws))
    monkeypatch.setattr(zygote, "_uid_leases", [])
    other_grader = uid_lease.lease(low + 11, uid_lease.lease_directory())
    assert zygote.choose_sandbox_uid() == low + 12
    assert len(zygote._uid_leases) == 1
    assert uid_lease.lease(low + 12, uid_lease.lease_directory()) is None  # now held by "this zygote"
    os.close(other_grader)
