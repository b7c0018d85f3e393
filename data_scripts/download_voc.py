"""Staff command line: download, verify and extract the course's VOC 2007 data.

    python -m data_scripts.download_voc DIR [--base-url URL] [--md5 NAME=HEX ...] [--max-attempts N]

A thin wrapper around ``student/voc_download.py``, the helper students get next
to the notebook; it is loaded by file path because ``student/`` is deliberately
not a package. ``--md5`` pins a checksum, e.g. for the JSON files, which have
no published one. Exit status: 0 on success, 1 when the data could not be
fetched, verified or extracted, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

from autograder.module_by_path import import_by_path

STUDENT_MODULE_PATH = Path(__file__).resolve().parent.parent / "student" / "voc_download.py"
_MODULE_NAME = "_student_voc_download"
MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")


def load_voc_download() -> ModuleType:
    """Import ``student/voc_download.py`` once, by path."""
    return import_by_path(STUDENT_MODULE_PATH, _MODULE_NAME)


def _parse_md5_pin(text: str) -> tuple[str, str]:
    name, _, digest = text.partition("=")
    if not name or not MD5_HEX.fullmatch(digest):
        raise argparse.ArgumentTypeError(
            f"expected NAME=HEX with 32 hex digits, e.g. voc07_train.json=<md5>; got {text!r}"
        )
    return name, digest


def _build_parser(voc_download: ModuleType) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_scripts.download_voc",
        description="Download, verify and extract PASCAL VOC 2007 train+val and the course's JSON box lists.",
    )
    parser.add_argument(
        "dataset_dir", metavar="DIR", type=Path, help="directory to fill (created if missing)"
    )
    parser.add_argument(
        "--base-url",
        default=voc_download.DEFAULT_BASE_URL,
        help="where the files live (default: %(default)s)",
    )
    parser.add_argument(
        "--md5",
        metavar="NAME=HEX",
        type=_parse_md5_pin,
        action="append",
        default=[],
        help=f"pin the md5 of one file; names: {', '.join(sorted(voc_download.KNOWN_MD5))}",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=voc_download.MAX_ATTEMPTS,
        help="attempts per file, each resuming the last (default: %(default)s)",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    voc_download = load_voc_download()
    parser = _build_parser(voc_download)
    args = parser.parse_args(argv)
    pins = dict(args.md5)
    unknown = sorted(set(pins) - set(voc_download.KNOWN_MD5))
    if unknown:
        known = sorted(voc_download.KNOWN_MD5)
        parser.error(f"--md5 names unknown file(s) {unknown}; expected names among {known}")
    if args.max_attempts < 1:
        parser.error(f"--max-attempts must be at least 1, got {args.max_attempts}")
    try:
        voc_download.download_voc2007_tiny(
            args.dataset_dir, base_url=args.base_url, checksums=pins, max_attempts=args.max_attempts
        )
    except voc_download.VOCDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
