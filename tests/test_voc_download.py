"""Tests for student/voc_download.py and its staff wrapper data_scripts/download_voc.py.

The real download code runs against an http.server on 127.0.0.1 (ephemeral
port) serving a small VOC-shaped tarball built here. Every request is recorded
as (file name, Range header) so each test states exactly what went over the
wire, and every client request carries a short timeout.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import sys
import tarfile
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` does not put the repository root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from data_scripts import download_voc  # noqa: E402

vd = download_voc.load_voc_download()  # student/voc_download.py, loaded by path like the CLI does.

pytestmark = pytest.mark.timeout(60)

TAR = "VOCtrainval_06-Nov-2007.tar"
TRAIN_JSON = "voc07_train.json"
VAL_JSON = "voc07_val.json"
CLIENT_TIMEOUT_S = 5.0
URL_PREFIX = "/data/"

IMAGE_BYTES = bytes(range(256)) * 40  # 10 KiB: the tarball spans several 512-byte blocks.
ANNOTATION_XML = b"<annotation><filename>000001.jpg</filename></annotation>\n"
TRAIN_ENTRIES = [
    ["VOCdevkit/VOC2007/JPEGImages/000001.jpg", [{"xyxy": [0.0, 0.0, 10.0, 10.0], "name": "dog"}]]
]
VAL_ENTRIES = [["VOCdevkit/VOC2007/JPEGImages/000002.jpg", [{"xyxy": [1.0, 2.0, 3.0, 4.0], "name": "cat"}]]]


# --- Building tarballs -----------------------------------------------------------------------------


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mtime = kind, link, len(data), 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, data


def _tar_bytes(members: list[tuple]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


VOC_MEMBERS = [
    _member("VOCdevkit", tarfile.DIRTYPE),
    _member("VOCdevkit/VOC2007", tarfile.DIRTYPE),
    _member("VOCdevkit/VOC2007/Annotations", tarfile.DIRTYPE),
    _member("VOCdevkit/VOC2007/Annotations/000001.xml", data=ANNOTATION_XML),
    _member("VOCdevkit/VOC2007/JPEGImages", tarfile.DIRTYPE),
    _member("VOCdevkit/VOC2007/JPEGImages/000001.jpg", data=IMAGE_BYTES),
]
VOC_TAR = _tar_bytes(VOC_MEMBERS)
VOC_TAR_MD5 = hashlib.md5(VOC_TAR).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- A local, scriptable file server ----------------------------------------------------------------


class FileServer:
    """Files served under ``base_url``, with a log of requests and optional misbehaviour."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {
            TAR: VOC_TAR,
            TRAIN_JSON: json.dumps(TRAIN_ENTRIES).encode(),
            VAL_JSON: json.dumps(VAL_ENTRIES).encode(),
        }
        self.requests: list[tuple[str, str | None]] = []
        self.cut_next_response: dict[str, int] = {}  # name -> bytes to send before hanging up, once
        self.ignore_range = False
        self.misplaced_ranges = False  # Answer Range requests with a 206 from byte 0.
        self.base_url = ""

    def handler_class(self) -> type:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):  # HTTP/1.0: one response per connection.
            def do_GET(self) -> None:
                name = self.path.removeprefix(URL_PREFIX)
                range_header = self.headers.get("Range")
                server.requests.append((name, range_header))
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if range_header and not server.ignore_range:
                    requested_start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
                    start = 0 if server.misplaced_ranges else requested_start
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                cut = server.cut_next_response.pop(name, None)
                self.wfile.write(payload if cut is None else payload[:cut])

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    state = FileServer()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), state.handler_class())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_port}{URL_PREFIX}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    return tmp_path / "data"


def _download(dataset_dir: Path, server: FileServer, **overrides) -> None:
    options = dict(
        base_url=server.base_url,
        checksums={TAR: VOC_TAR_MD5},
        timeout_s=CLIENT_TIMEOUT_S,
        retry_delay_s=0.0,
        progress=False,
    )
    options.update(overrides)
    vd.download_voc2007_tiny(dataset_dir, **options)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Success, idempotence, resume ----------------------------------------------------------------


def test_download_verifies_extracts_and_marks_complete(dataset_dir, server, capsys):
    _download(dataset_dir, server)

    assert server.requests == [(TRAIN_JSON, None), (VAL_JSON, None), (TAR, None)]
    assert (dataset_dir / "VOCdevkit/VOC2007/JPEGImages/000001.jpg").read_bytes() == IMAGE_BYTES
    assert json.loads((dataset_dir / TRAIN_JSON).read_text()) == TRAIN_ENTRIES
    assert json.loads((dataset_dir / VAL_JSON).read_text()) == VAL_ENTRIES
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR
    assert not list(dataset_dir.glob("*.part"))
    marker = json.loads((dataset_dir / vd.COMPLETION_MARKER).read_text())
    assert marker["md5"][TAR] == VOC_TAR_MD5
    output = capsys.readouterr().out
    train_md5 = _md5(server.files[TRAIN_JSON])
    notice = f"Notice: {TRAIN_JSON} is not checksum-verified (no published checksum); its md5 is {train_md5}."
    assert notice in output
    assert f"Notice: {VAL_JSON} is not checksum-verified" in output


def test_second_call_sends_no_request_and_says_so(dataset_dir, server, capsys):
    _download(dataset_dir, server)
    server.requests.clear()
    capsys.readouterr()

    _download(dataset_dir, server)

    assert server.requests == []
    assert "nothing to do" in capsys.readouterr().out


def test_newly_pinned_checksum_is_checked_despite_the_marker(dataset_dir, server):
    _download(dataset_dir, server)
    server.requests.clear()

    with pytest.raises(vd.ChecksumMismatchError, match=f"has md5 {VOC_TAR_MD5}, expected 0{{32}}"):
        _download(dataset_dir, server, checksums={TAR: "0" * 32})

    assert server.requests == []


def test_removed_output_makes_the_next_call_redo_the_work(dataset_dir, server):
    _download(dataset_dir, server)
    (dataset_dir / VAL_JSON).unlink()
    server.requests.clear()

    _download(dataset_dir, server)

    assert server.requests == [(VAL_JSON, None)]  # The other two are present and verified locally.
    assert (dataset_dir / VAL_JSON).is_file()


def test_truncated_transfer_resumes_with_range_in_the_same_call(dataset_dir, server, capsys):
    server.cut_next_response[TAR] = 3000

    _download(dataset_dir, server)

    assert server.requests[2:] == [(TAR, None), (TAR, "bytes=3000-")]
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR
    assert (dataset_dir / "VOCdevkit/VOC2007/JPEGImages/000001.jpg").read_bytes() == IMAGE_BYTES
    output = capsys.readouterr().out
    assert f"attempt 1 of 3 failed (the connection closed after 3000 of {len(VOC_TAR)} bytes)" in output


def test_interrupted_call_leaves_a_part_file_that_the_next_call_resumes(dataset_dir, server):
    server.cut_next_response[TAR] = 3000

    with pytest.raises(vd.DownloadError, match="the connection closed after 3000 of"):
        _download(dataset_dir, server, max_attempts=1)

    assert (dataset_dir / (TAR + ".part")).stat().st_size == 3000
    assert not (dataset_dir / TAR).exists()
    assert not (dataset_dir / vd.COMPLETION_MARKER).exists()
    server.requests.clear()

    _download(dataset_dir, server)

    assert server.requests == [(TAR, "bytes=3000-")]
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR


def test_server_ignoring_range_restarts_the_file_from_zero(dataset_dir, server, capsys):
    dataset_dir.mkdir()
    (dataset_dir / (TAR + ".part")).write_bytes(b"stale bytes from elsewhere")
    server.ignore_range = True

    _download(dataset_dir, server)

    assert server.requests[2:] == [(TAR, "bytes=26-")]
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR
    assert "the server did not resume at byte 26; restarting from the beginning" in capsys.readouterr().out


def test_partial_content_from_the_wrong_offset_is_discarded(dataset_dir, server, capsys):
    dataset_dir.mkdir()
    (dataset_dir / (TAR + ".part")).write_bytes(VOC_TAR[:100])
    server.misplaced_ranges = True

    _download(dataset_dir, server)

    assert server.requests[2:] == [(TAR, "bytes=100-"), (TAR, None)]
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR
    output = capsys.readouterr().out
    assert f"asked for bytes from 100, the server sent bytes 0-{len(VOC_TAR) - 1}/{len(VOC_TAR)}" in output


def test_part_file_already_complete_is_finished_without_refetching(dataset_dir, server):
    dataset_dir.mkdir()
    (dataset_dir / (TAR + ".part")).write_bytes(VOC_TAR)

    _download(dataset_dir, server)

    assert server.requests[2:] == [(TAR, f"bytes={len(VOC_TAR)}-")]  # Answered 416 with the full size.
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR


def test_part_file_longer_than_the_remote_file_is_discarded(dataset_dir, server, capsys):
    dataset_dir.mkdir()
    (dataset_dir / (TAR + ".part")).write_bytes(VOC_TAR + b"extra")

    _download(dataset_dir, server)

    assert server.requests[2:] == [(TAR, f"bytes={len(VOC_TAR) + 5}-"), (TAR, None)]
    assert (dataset_dir / TAR).read_bytes() == VOC_TAR
    assert f"the server cannot resume at byte {len(VOC_TAR) + 5}; starting over" in capsys.readouterr().out


def test_file_placed_by_hand_is_verified_instead_of_downloaded(dataset_dir, server):
    dataset_dir.mkdir()
    (dataset_dir / TAR).write_bytes(VOC_TAR)

    _download(dataset_dir, server)

    assert server.requests == [(TRAIN_JSON, None), (VAL_JSON, None)]
    assert (dataset_dir / "VOCdevkit/VOC2007/Annotations/000001.xml").read_bytes() == ANNOTATION_XML


# --- Verification ----------------------------------------------------------------------------------


def test_tarball_with_wrong_md5_is_refused_and_removed(dataset_dir, server):
    with pytest.raises(vd.ChecksumMismatchError) as caught:
        _download(dataset_dir, server, checksums={})  # The official md5, which this test tarball lacks.

    message = str(caught.value)
    assert f"has md5 {VOC_TAR_MD5}, expected c52e279531787c972589f7e41ab4ae64" in message
    assert f"{server.base_url}{TAR}" in message
    assert not (dataset_dir / TAR).exists()
    assert not (dataset_dir / (TAR + ".part")).exists()
    assert not (dataset_dir / "VOCdevkit").exists()
    assert not (dataset_dir / vd.COMPLETION_MARKER).exists()


def test_pinned_json_md5_is_enforced(dataset_dir, server):
    with pytest.raises(vd.ChecksumMismatchError, match=f"{TRAIN_JSON} from .* expected 0{{32}}"):
        _download(dataset_dir, server, checksums={TAR: VOC_TAR_MD5, TRAIN_JSON: "0" * 32})

    assert not (dataset_dir / TRAIN_JSON).exists()
    assert not (dataset_dir / (TRAIN_JSON + ".part")).exists()


def test_existing_file_with_wrong_md5_is_reported_with_the_fix(dataset_dir, server):
    dataset_dir.mkdir()
    (dataset_dir / TAR).write_bytes(b"not the tarball")

    fix = f"Delete {dataset_dir / TAR} and run this again"
    with pytest.raises(vd.ChecksumMismatchError, match=re.escape(fix)):
        _download(dataset_dir, server)

    assert [name for name, _ in server.requests] == [TRAIN_JSON, VAL_JSON]


def test_html_error_page_saved_as_json_is_refused(dataset_dir, server):
    server.files[VAL_JSON] = b"<html>Service unavailable</html>"

    with pytest.raises(vd.VOCDataError, match=f"{VAL_JSON} from .* is not valid JSON"):
        _download(dataset_dir, server)

    assert not (dataset_dir / VAL_JSON).exists()
    assert not (dataset_dir / (VAL_JSON + ".part")).exists()


def test_unknown_checksum_name_is_rejected(dataset_dir, server):
    with pytest.raises(ValueError, match="unknown file"):
        _download(dataset_dir, server, checksums={"voc12_train.json": "0" * 32})
    assert server.requests == []


# --- Safe extraction -------------------------------------------------------------------------------


def _unsafe_members(tmp_path: Path) -> dict[str, list[tuple]]:
    outside = str(tmp_path / "outside")
    return {
        "parent traversal": [_member("../evil.txt", data=b"pwned")],
        "absolute path": [_member(str(tmp_path / "abs_evil.txt"), data=b"pwned")],
        "symlink escaping": [
            _member("VOCdevkit/escape", tarfile.SYMTYPE, link="../../outside"),
            _member("VOCdevkit/escape/pwned.txt", data=b"pwned"),
        ],
        "absolute symlink": [_member("VOCdevkit/abs_link", tarfile.SYMTYPE, link=outside)],
        "hard link escaping": [_member("VOCdevkit/hard", tarfile.LNKTYPE, link="../secret")],
        "device file": [_member("VOCdevkit/VOC2007/tty", tarfile.CHRTYPE)],
    }


@pytest.mark.parametrize(
    "case, offending_member",
    [
        ("parent traversal", "../evil.txt"),
        ("absolute path", None),  # Its name is under tmp_path, known only inside the test.
        ("symlink escaping", "VOCdevkit/escape"),
        ("absolute symlink", "VOCdevkit/abs_link"),
        ("hard link escaping", "VOCdevkit/hard"),
        ("device file", "VOCdevkit/VOC2007/tty"),
    ],
)
@pytest.mark.parametrize("python_has_data_filter", [True, False], ids=["data filter", "no data filter"])
def test_unsafe_archive_is_refused_before_anything_is_written(
    tmp_path, dataset_dir, server, monkeypatch, case, offending_member, python_has_data_filter
):
    if not python_has_data_filter:  # As on Pythons older than 3.11.4: only our own checks stand.
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    evil_tar = _tar_bytes(VOC_MEMBERS + _unsafe_members(tmp_path)[case])
    server.files[TAR] = evil_tar

    with pytest.raises(vd.UnsafeArchiveError) as caught:
        _download(dataset_dir, server, checksums={TAR: _md5(evil_tar)})

    offending_member = offending_member or str(tmp_path / "abs_evil.txt")
    assert f"member {offending_member!r}" in str(caught.value)
    assert "Nothing was extracted" in str(caught.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]  # Nothing outside the dataset dir.
    assert not (dataset_dir / "VOCdevkit").exists()  # Not even the safe members before it.
    assert not (dataset_dir / vd.COMPLETION_MARKER).exists()


def test_archive_without_vocdevkit_is_rejected(dataset_dir, server):
    other_tar = _tar_bytes([_member("README.txt", data=b"not VOC")])
    server.files[TAR] = other_tar

    with pytest.raises(vd.VOCDataError, match="did not contain VOCdevkit/VOC2007/"):
        _download(dataset_dir, server, checksums={TAR: _md5(other_tar)})

    assert not (dataset_dir / vd.COMPLETION_MARKER).exists()


@pytest.mark.parametrize("python_has_data_filter", [True, False], ids=["data filter", "no data filter"])
def test_link_inside_the_archive_is_extracted(tmp_path, monkeypatch, python_has_data_filter):
    if not python_has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "inner_link.tar"
    inner_link = _member("VOCdevkit/images", tarfile.SYMTYPE, link="VOC2007/JPEGImages")
    archive.write_bytes(_tar_bytes(VOC_MEMBERS + [inner_link]))

    vd.safe_extract(archive, tmp_path / "out")

    assert (tmp_path / "out/VOCdevkit/images/000001.jpg").read_bytes() == IMAGE_BYTES


def test_corrupt_archive_raises_a_clear_error(tmp_path):
    archive = tmp_path / "corrupt.tar"
    archive.write_bytes(VOC_TAR[:6000])  # Cut inside the image's data.

    with pytest.raises(vd.VOCDataError, match=f"Could not extract {re.escape(str(archive))}"):
        vd.safe_extract(archive, tmp_path / "out")


# --- Failures to connect ---------------------------------------------------------------------------


def test_offline_error_names_the_url_and_both_fallbacks(dataset_dir, capsys):
    base_url = f"http://127.0.0.1:{_closed_port()}/data/"

    with pytest.raises(vd.DownloadError) as caught:
        vd.download_voc2007_tiny(
            dataset_dir, base_url=base_url, timeout_s=CLIENT_TIMEOUT_S, max_attempts=2, retry_delay_s=0.0
        )

    message = str(caught.value)
    assert message.startswith(f"Could not download {base_url}{TRAIN_JSON}: ")
    assert "Connection refused" in message
    assert f"download {base_url}{TRAIN_JSON} by hand and save it as {dataset_dir / TRAIN_JSON}" in message
    assert f"all of {TAR}, {TRAIN_JSON}, {VAL_JSON} come from {base_url} and go in {dataset_dir}" in message
    assert "run this again later: what was downloaded is kept" in message
    assert "data_scripts" not in message  # students have only the course files
    assert f"{base_url}{TRAIN_JSON}: attempt 1 of 2 failed" in capsys.readouterr().out
    assert not (dataset_dir / vd.COMPLETION_MARKER).exists()


def test_http_404_is_reported_without_retrying(dataset_dir, server):
    del server.files[VAL_JSON]

    with pytest.raises(vd.DownloadError, match=f"Could not download {server.base_url}{VAL_JSON}: HTTP 404"):
        _download(dataset_dir, server)

    assert server.requests == [(TRAIN_JSON, None), (VAL_JSON, None)]


# --- Progress --------------------------------------------------------------------------------------


def test_line_progress_prints_each_ten_percent_once(capsys):
    progress = vd._LineProgress("file.tar", total=1000)
    for chunk in (250, 50, 10, 690):
        progress.update(chunk)
    progress.close()

    assert capsys.readouterr().out.splitlines() == [
        "file.tar: 25% of 1000 B",
        "file.tar: 30% of 1000 B",
        "file.tar: 100% of 1000 B",
        "file.tar: 1000 B received",
    ]


def test_line_progress_is_used_when_tqdm_is_missing(dataset_dir, server, monkeypatch, capsys):
    monkeypatch.setattr(vd, "_tqdm", None)

    _download(dataset_dir, server, progress=True)

    output = capsys.readouterr().out
    assert len(VOC_TAR) == 20480  # Two 10240-byte tar records.
    assert f"{TAR}: 100% of 20.0 KiB" in output
    assert f"{TAR}: 20.0 KiB received" in output


@pytest.mark.parametrize(
    "size, text",
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (460_032_000, "438.7 MiB"), (3 << 30, "3.0 GiB")],
)
def test_format_bytes(size, text):
    assert vd._format_bytes(size) == text


# --- Staff command line ----------------------------------------------------------------------------


def test_cli_downloads_with_a_pinned_md5(dataset_dir, server, capsys):
    status = download_voc.main(
        [str(dataset_dir), "--base-url", server.base_url, "--md5", f"{TAR}={VOC_TAR_MD5}"]
    )

    assert status == 0
    assert (dataset_dir / vd.COMPLETION_MARKER).is_file()
    assert f"VOC 2007 is ready in {dataset_dir}." in capsys.readouterr().out


def test_cli_reports_a_failure_with_status_1(dataset_dir, capsys):
    base_url = f"http://127.0.0.1:{_closed_port()}/"

    status = download_voc.main([str(dataset_dir), "--base-url", base_url, "--max-attempts", "1"])

    assert status == 1
    assert f"error: Could not download {base_url}{TRAIN_JSON}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "pin, complaint",
    [("voc07_train.json=xyz", "32 hex digits"), (f"voc12.json={'0' * 32}", "unknown file(s) ['voc12.json']")],
)
def test_cli_rejects_a_malformed_md5_pin(dataset_dir, capsys, pin, complaint):
    with pytest.raises(SystemExit) as caught:
        download_voc.main([str(dataset_dir), "--md5", pin])

    assert caught.value.code == 2
    assert complaint in capsys.readouterr().err
    assert not dataset_dir.exists()
