"""The worker's file system as root: an allowlist, never a copy of the host's.

Inside its private mount namespace (``confinement.enter_private_mounts``) a
worker moves to a new root, an empty tmpfs holding only:

* Python's import path (standard library, site-packages) and the interpreter
  (``sys.executable`` and every link on the way to it, ``pyvenv.cfg``),
  read-only;
* the system's shared-library folders and ``/etc/ld.so.cache``, read-only
  (the interpreter and compiled extensions load from them);
* ``/proc``, a few device nodes, the CPU topology under ``/sys`` (torch reads it);
* a private, size-capped ``/tmp`` (holding the work directory with the copy of
  the submission) and ``/dev/shm``.

Nothing else exists there: no course repository (so no ``.git`` and no
``reference/``), no staged grader package (workers are forked with it
already imported), no home folder, no other checkout, no ``/run``, ``/var``
or other host-writable folder.  A protected path that still lies inside a
visible folder (a results folder inside a virtual environment, say) is
covered by an empty mode-000 tmpfs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Shared libraries: the interpreter, numpy and torch link against these.
SYSTEM_LIBRARY_DIRS = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/local/lib")
SYSTEM_FILES = ("/etc/ld.so.cache",)  # how the dynamic loader finds a library by name
CPU_TOPOLOGY_DIR = "/sys/devices/system/cpu"  # read by torch's cpuinfo; no host secret there
DEVICE_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
ROOT_TMPFS_OPTIONS = "size=1m,mode=0755"  # only folders, links and mount points live on it
DEV_TMPFS_OPTIONS = "size=64k,mode=0755"
OLD_ROOT = "/.old-root"  # where pivot_root parks the host's root until it is detached


@dataclass(frozen=True)
class Allowlist:
    """What a worker's root shows of the host (absolute, symlink-free paths unless noted)."""

    directories: tuple[str, ...]  # bound read-only; none inside another
    files: tuple[str, ...]  # bound read-only
    links: tuple[tuple[str, str], ...] = field(default=())  # (path, target) symlinks recreated as they are

    def shows_host_content_at(self, path: str) -> bool:
        """Whether ``path`` is (inside) an allowed folder or file, rather than absent or a bare
        folder of the new root leading to one."""
        return path in self.files or any(_is_within(path, directory) for directory in self.directories)


def allowlist(import_path: list[str], executable: str, prefix: str, base_prefix: str) -> Allowlist:
    """The folders and files a worker needs to run this interpreter and import its packages.

    ``import_path`` is the zygote's ``sys.path`` without the staged grader
    package (workers never import from it).
    """
    directories = {os.path.realpath(path) for path in import_path if path and os.path.isdir(path)}
    directories.add(os.path.realpath(os.path.join(base_prefix, "lib")))  # libpython of a non-system Python
    links, files = [], set()
    for path in SYSTEM_LIBRARY_DIRS:
        if os.path.islink(path):
            links.append((path, os.readlink(path)))
        elif os.path.isdir(path):
            directories.add(path)
    files.update(path for path in SYSTEM_FILES if os.path.isfile(path))
    config = os.path.join(prefix, "pyvenv.cfg")  # without it the venv's python would not find site-packages
    if os.path.isfile(config):
        files.add(os.path.realpath(config))
    hop = os.path.abspath(executable)
    for _ in range(40):  # the symlink chain venv/bin/python -> python3 -> /usr/bin/python3.11
        if not os.path.islink(hop):
            files.add(os.path.realpath(hop))
            break
        target = os.readlink(hop)
        links.append((hop, target))
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), target))
    directories = {d for d in directories if os.path.isdir(d)}
    outermost = sorted(d for d in directories if not any(_is_within(d, other) for other in directories if other != d))
    return Allowlist(
        directories=tuple(outermost),
        files=tuple(sorted(f for f in files if not any(_is_within(f, d) for d in outermost))),
        links=tuple(sorted((path, target) for path, target in set(links)
                           if not any(_is_within(path, d) for d in outermost))),
    )


def _is_within(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory
