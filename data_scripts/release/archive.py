"""The student release archive: a zip, byte-for-byte reproducible.

Every member sits in one folder (`layout.ARCHIVE_FOLDER`), with a fixed
timestamp and permissions, in sorted order, so the same inputs always give
the same bytes.
"""

import io
import zipfile
from typing import Dict

# The earliest timestamp a zip can hold; any fixed value makes builds reproducible.
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644


def build_archive(members: Dict[str, bytes], folder: str) -> bytes:
    """A zip of `members` (name -> content) under `folder/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()


def read_archive(data: bytes) -> Dict[str, bytes]:
    """Members of a zip (full names -> content)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
