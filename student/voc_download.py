"""Download, verify and safely extract the PASCAL VOC 2007 data used by the course.

``download_voc2007_tiny(dataset_dir)`` leaves this in ``dataset_dir``::

    voc07_train.json               box lists, one entry per image:
    voc07_val.json                 [image_path, [{"xyxy": [x1, y1, x2, y2], "name": cls}, ...]]
    VOCtrainval_06-Nov-2007.tar    the official VOC 2007 train+val tarball
    VOCdevkit/VOC2007/...          its contents (images and XML annotations)
    .voc2007_tiny_complete         completion marker, written last

What it guarantees:

* Resume. Each file streams into ``<name>.part``. An interrupted transfer
  continues with an HTTP ``Range`` request, in the same call (bounded retries)
  or a later one; when the server ignores ``Range`` the file restarts from
  zero. The final name appears only once the file is complete and verified.
* Verification. The tarball must match its official MD5 (the value
  torchvision's ``VOCDetection`` lists for VOCtrainval_06-Nov-2007.tar; we
  assume, without having been able to check it offline, that the course
  mirror serves that same file). No checksum is published for the two JSON
  files: they are checked only for completeness (Content-Length) and for
  being a JSON list, and a one-line notice prints their MD5 so that staff can
  pin it via ``checksums=``.
* Safe extraction. Every member is checked before anything is written:
  absolute paths, ``..`` components, links that are absolute or contain
  ``..``, and device files or FIFOs are refused. Where the running Python has
  it, tarfile's ``'data'`` extraction filter is applied as well.
* Idempotence. Once the marker exists (and the outputs are in place) a call
  does nothing and says so. The marker records each file's MD5, so a
  checksum pinned later is still enforced.
* Offline. A failed download raises :class:`DownloadError` naming the URL and
  the two fallbacks: fetch the file by hand into ``dataset_dir``, or use the
  synthetic dataset.

This file ships to students next to the notebook, so it needs only the
standard library (``tqdm`` draws progress bars when it is installed).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path, PureWindowsPath
from typing import Mapping, Optional

try:
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # Progress is then reported as plain lines.
    _tqdm = None

__all__ = [
    "DEFAULT_BASE_URL",
    "KNOWN_MD5",
    "ChecksumMismatchError",
    "DownloadError",
    "UnsafeArchiveError",
    "VOCDataError",
    "download_voc2007_tiny",
    "safe_extract",
]

DEFAULT_BASE_URL = "https://web.eecs.umich.edu/~justincj/data/"
TARBALL_NAME = "VOCtrainval_06-Nov-2007.tar"
SPLIT_JSON_NAMES = ("voc07_train.json", "voc07_val.json")
EXTRACTED_ROOT = "VOCdevkit/VOC2007"

# Expected MD5 per file. None: no published checksum, so the file is checked
# for completeness only. The tarball's value is the official one, as listed by
# torchvision.datasets.VOCDetection for the 2007 train+val release.
KNOWN_MD5: dict[str, Optional[str]] = {
    TARBALL_NAME: "c52e279531787c972589f7e41ab4ae64",
    "voc07_train.json": None,
    "voc07_val.json": None,
}

COMPLETION_MARKER = ".voc2007_tiny_complete"
PART_SUFFIX = ".part"
USER_AGENT = "voc2007-tiny-downloader/1.0 (Python urllib)"

REQUEST_TIMEOUT_S = 60.0  # Bounds the connection and every read on it.
MAX_ATTEMPTS = 3
RETRY_DELAY_S = 2.0
CHUNK_BYTES = 1 << 20
HASH_CHUNK_BYTES = 1 << 22
LINE_PROGRESS_PERCENT_STEP = 10
LINE_PROGRESS_UNKNOWN_SIZE_STEP = 50 << 20

HTTP_PARTIAL_CONTENT = 206
HTTP_RANGE_NOT_SATISFIABLE = 416
HTTP_FIRST_SERVER_ERROR = 500

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_UNSATISFIED_CONTENT_RANGE = re.compile(r"bytes \*/(\d+)")


class VOCDataError(RuntimeError):
    """Base class: the dataset could not be fetched, verified or extracted."""


class DownloadError(VOCDataError):
    """A file could not be downloaded; the message names the URL and fallbacks."""


class ChecksumMismatchError(VOCDataError):
    """A file's MD5 differs from the expected one."""


class UnsafeArchiveError(VOCDataError):
    """The tarball holds a member that could write outside its destination."""


class _TransferIncomplete(Exception):
    """The connection ended before the whole file arrived (retried)."""


# Network failures worth another attempt; HTTP errors are handled separately.
_RETRYABLE_ERRORS = (
    _TransferIncomplete,
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def download_voc2007_tiny(
    dataset_dir: str | os.PathLike,
    *,
    base_url: str = DEFAULT_BASE_URL,
    checksums: Optional[Mapping[str, Optional[str]]] = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
    max_attempts: int = MAX_ATTEMPTS,
    retry_delay_s: float = RETRY_DELAY_S,
    progress: bool = True,
) -> None:
    """Fetch, verify and extract the VOC 2007 files into ``dataset_dir``.

    Args:
        dataset_dir: Directory to fill (created if missing).
        base_url: Where the three files live; ``<base_url>/<file name>``.
        checksums: MD5 hex digests overriding :data:`KNOWN_MD5` by file name;
            a None value turns verification of that file off.
        timeout_s: Socket timeout, in seconds, for connecting and each read.
        max_attempts: Attempts per file before giving up; each one resumes.
        retry_delay_s: Pause between attempts, in seconds.
        progress: Report progress (a tqdm bar, or a line every 10%).

    Raises:
        DownloadError: A file could not be fetched (e.g. offline).
        ChecksumMismatchError: A file does not match its expected MD5.
        UnsafeArchiveError: The tarball tries to write outside ``dataset_dir``.
        VOCDataError: Any other reason the data is unusable (the base class).
        ValueError: ``checksums`` or ``max_attempts`` is malformed.
    """
    dataset_dir = Path(dataset_dir)
    expected_md5 = _merge_checksums(checksums)
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}.")
    if _is_complete(dataset_dir, expected_md5):
        print(f"VOC 2007 is already downloaded, verified and extracted in {dataset_dir}; nothing to do.")
        return
    dataset_dir.mkdir(parents=True, exist_ok=True)

    actual_md5 = {}
    for name in (*SPLIT_JSON_NAMES, TARBALL_NAME):  # Small files first: fail fast when offline.
        url = base_url.rstrip("/") + "/" + name
        actual_md5[name] = _fetch_verified(
            url,
            dataset_dir / name,
            expected_md5[name],
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            retry_delay_s=retry_delay_s,
            progress=progress,
        )

    print(f"Extracting {TARBALL_NAME} into {dataset_dir} ...")
    safe_extract(dataset_dir / TARBALL_NAME, dataset_dir)
    if not (dataset_dir / EXTRACTED_ROOT).is_dir():
        raise VOCDataError(
            f"{dataset_dir / TARBALL_NAME} did not contain {EXTRACTED_ROOT}/; it is not the VOC 2007 "
            f"train+val tarball. Delete it and run this again."
        )
    _write_marker(dataset_dir, {"base_url": base_url, "md5": actual_md5})
    print(f"VOC 2007 is ready in {dataset_dir}.")


def safe_extract(archive: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Extract a tarball after checking that no member can leave ``destination``.

    Nothing is written when any member is refused. Links are allowed only with
    relative targets free of ``..``: such a link points at or below its own
    directory, so no chain of them can leave ``destination``.

    Raises:
        UnsafeArchiveError: A member is absolute, climbs with ``..``, links
            outside, or is a device file or FIFO.
        VOCDataError: The archive cannot be read.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_member_reason(member)
                if reason is not None:
                    raise UnsafeArchiveError(
                        f"Refusing to extract {archive}: member {member.name!r} {reason}. Nothing was "
                        f"extracted. Delete {archive} and download it again from a trusted source."
                    )
            if hasattr(tarfile, "data_filter"):  # Python 3.12+; 3.8.17, 3.9.17, 3.10.12, 3.11.4+.
                tar.extractall(destination, members=members, filter="data")
            else:
                tar.extractall(destination, members=members)
    except tarfile.TarError as error:
        raise VOCDataError(
            f"Could not extract {archive}: {error}. Delete it and run this again."
        ) from error


def _unsafe_member_reason(member: tarfile.TarInfo) -> Optional[str]:
    """Why extracting ``member`` would be unsafe, or None when it is safe."""
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "is a device file, FIFO or other special file"
    if _is_absolute(member.name):
        return "has an absolute path"
    if ".." in _path_components(member.name):
        return "contains a '..' path component"
    if (member.issym() or member.islnk()) and (
        _is_absolute(member.linkname) or ".." in _path_components(member.linkname)
    ):
        return f"is a link to {member.linkname!r}, which can point outside the destination"
    return None


def _is_absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(PureWindowsPath(path).drive)


def _path_components(path: str) -> list[str]:
    return re.split(r"[\\/]", path)


def _merge_checksums(overrides: Optional[Mapping[str, Optional[str]]]) -> dict[str, Optional[str]]:
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(KNOWN_MD5))
    if unknown:
        raise ValueError(
            f"checksums names unknown file(s) {unknown}; expected names among {sorted(KNOWN_MD5)}."
        )
    for name, digest in overrides.items():
        if digest is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", digest):
            raise ValueError(f"checksums[{name!r}] = {digest!r} is not an MD5 hex digest (32 hex digits).")
    merged = {**KNOWN_MD5, **overrides}
    return {name: None if digest is None else digest.lower() for name, digest in merged.items()}


def _is_complete(dataset_dir: Path, expected_md5: Mapping[str, Optional[str]]) -> bool:
    """True when an earlier call finished and verified what ``expected_md5`` asks for."""
    try:
        recorded_md5 = json.loads((dataset_dir / COMPLETION_MARKER).read_text(encoding="utf-8"))["md5"]
    except (OSError, ValueError, KeyError, TypeError):  # Absent, or not written by this module.
        return False
    return (
        isinstance(recorded_md5, dict)
        and all(digest is None or recorded_md5.get(name) == digest for name, digest in expected_md5.items())
        and all((dataset_dir / name).is_file() for name in SPLIT_JSON_NAMES)
        and (dataset_dir / EXTRACTED_ROOT).is_dir()
    )


def _write_marker(dataset_dir: Path, record: dict) -> None:
    temporary = dataset_dir / (COMPLETION_MARKER + ".tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, dataset_dir / COMPLETION_MARKER)


def _fetch_verified(
    url: str,
    destination: Path,
    expected_md5: Optional[str],
    *,
    timeout_s: float,
    max_attempts: int,
    retry_delay_s: float,
    progress: bool,
) -> str:
    """Make ``destination`` a verified copy of ``url``; return its MD5."""
    if destination.is_file():
        # A finished earlier download, or a file placed by hand: verify, do not fetch.
        print(f"{destination} exists; verifying it instead of downloading.")
        remedy = f"Delete {destination} and run this again."
        return _verify(destination, destination.name, expected_md5, url, remedy=remedy)

    part = _part_path(destination)
    _download_with_resume(
        url,
        destination,
        timeout_s=timeout_s,
        max_attempts=max_attempts,
        retry_delay_s=retry_delay_s,
        progress=progress,
    )
    try:
        remedy = "The download was deleted; run this again."
        digest = _verify(part, destination.name, expected_md5, url, remedy=remedy)
    except VOCDataError:
        part.unlink(missing_ok=True)  # Never leave a bad file that looks resumable or complete.
        raise
    os.replace(part, destination)
    return digest


def _verify(path: Path, name: str, expected_md5: Optional[str], url: str, *, remedy: str) -> str:
    """Check ``path`` (holding file ``name``) and return its MD5."""
    digest = _md5_of(path)
    if expected_md5 is None:
        print(f"Notice: {name} is not checksum-verified (no published checksum); its md5 is {digest}.")
    elif digest != expected_md5:
        raise ChecksumMismatchError(
            f"{name} from {url} has md5 {digest}, expected {expected_md5}: the file is corrupt or not "
            f"the expected release. {remedy}"
        )
    if name.endswith(".json"):
        _check_json_list(path, name, url, remedy)
    return digest


def _check_json_list(path: Path, name: str, url: str, remedy: str) -> None:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VOCDataError(
            f"{name} from {url} is not valid JSON ({error}); perhaps an error page. {remedy}"
        ) from error
    if not isinstance(content, list):
        raise VOCDataError(
            f"{name} from {url} holds a JSON {type(content).__name__}, expected a list. {remedy}"
        )


def _md5_of(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as source:
        while chunk := source.read(HASH_CHUNK_BYTES):
            md5.update(chunk)
    return md5.hexdigest()


def _part_path(destination: Path) -> Path:
    return destination.with_name(destination.name + PART_SUFFIX)


def _download_with_resume(
    url: str, destination: Path, *, timeout_s: float, max_attempts: int, retry_delay_s: float, progress: bool
) -> None:
    """Complete ``destination``'s part file from ``url``, resuming after each failed attempt."""
    reason = ""
    for attempt in range(1, max_attempts + 1):
        try:
            part = _part_path(destination)
            _stream_into(url, part, destination.name, timeout_s=timeout_s, progress=progress)
            return
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code} {error.reason}"
            if error.code < HTTP_FIRST_SERVER_ERROR:  # A client error will not heal by retrying.
                break
        except _RETRYABLE_ERRORS as error:
            reason = str(getattr(error, "reason", None) or error) or type(error).__name__
        if attempt < max_attempts:
            print(
                f"{url}: attempt {attempt} of {max_attempts} failed ({reason}); "
                f"retrying in {retry_delay_s:g} s."
            )
            time.sleep(retry_delay_s)
    raise DownloadError(_download_failure_message(url, reason, destination))


def _download_failure_message(url: str, reason: str, destination: Path) -> str:
    base_url = url.rsplit("/", 1)[0] + "/"
    all_files = ", ".join(KNOWN_MD5)
    return (
        f"Could not download {url}: {reason}.\n"
        f"If this machine is offline or the server is unavailable, either\n"
        f"  * download {url} by hand and save it as {destination}, then run this again\n"
        f"    (all of {all_files} come from {base_url} and go in {destination.parent};\n"
        f"    files already present are verified, not downloaded again), or\n"
        f"  * run this again later: what was downloaded is kept, and an interrupted file resumes."
    )


def _stream_into(url: str, part: Path, label: str, *, timeout_s: float, progress: bool) -> None:
    """One attempt: append the rest of ``url`` to ``part`` (or rewrite it), reporting as ``label``.

    Raises:
        _TransferIncomplete: The body ended early; ``part`` keeps what arrived.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code != HTTP_RANGE_NOT_SATISFIABLE or not offset:
            raise
        with error:
            match = _UNSATISFIED_CONTENT_RANGE.fullmatch(error.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return  # The earlier attempt had already received everything.
        part.unlink()
        raise _TransferIncomplete(f"the server cannot resume at byte {offset}; starting over") from error

    with response:
        if response.status == HTTP_PARTIAL_CONTENT:
            content_range = response.headers.get("Content-Range", "")
            match = _CONTENT_RANGE.fullmatch(content_range)
            if not (offset and match and int(match.group(1)) == offset):
                part.unlink(missing_ok=True)
                raise _TransferIncomplete(
                    f"asked for bytes from {offset}, the server sent {content_range or 'no Content-Range'}; "
                    "starting over"
                )
            total: Optional[int] = int(match.group(3))
            mode = "ab"
        else:  # A full response: 200, also when the server ignored Range.
            if offset:
                print(f"{url}: the server did not resume at byte {offset}; restarting from the beginning.")
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            mode = "wb"
        with open(part, mode) as sink:
            reporter = _open_progress(label, total, offset, enabled=progress)
            try:
                while chunk := response.read(CHUNK_BYTES):
                    sink.write(chunk)
                    reporter.update(len(chunk))
            finally:
                reporter.close()

    size = part.stat().st_size
    if total is not None and size < total:
        raise _TransferIncomplete(f"the connection closed after {size} of {total} bytes")


def _open_progress(label: str, total: Optional[int], initial: int, *, enabled: bool):
    if not enabled:
        return _NoProgress()
    if _tqdm is not None:
        return _tqdm(total=total, initial=initial, desc=label, unit="B", unit_scale=True, unit_divisor=1024)
    return _LineProgress(label, total, initial)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _LineProgress:
    """Prints a line each 10% of the file (each 50 MiB when its size is unknown)."""

    def __init__(self, label: str, total: Optional[int], initial: int = 0) -> None:
        self.label, self.total, self.done = label, total, initial
        self._last_step = self._step()

    def _step(self) -> int:
        if self.total:
            return self.done * 100 // self.total // LINE_PROGRESS_PERCENT_STEP
        return self.done // LINE_PROGRESS_UNKNOWN_SIZE_STEP

    def update(self, n: int) -> None:
        self.done += n
        step = self._step()
        if step > self._last_step:
            self._last_step = step
            if self.total:
                percent = self.done * 100 // self.total
                print(f"{self.label}: {percent}% of {_format_bytes(self.total)}", flush=True)
            else:
                print(f"{self.label}: {_format_bytes(self.done)} so far", flush=True)

    def close(self) -> None:
        print(f"{self.label}: {_format_bytes(self.done)} received", flush=True)


def _format_bytes(n: int) -> str:
    """Human-readable size: ``_format_bytes(1536) == '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
