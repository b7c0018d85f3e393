"""The stored golden records: where they live and how the grader loads them.

``autograder/fixtures/`` holds ``golden.agv`` (the reference's replies to the
golden cases, in the sandbox's pickle-free format, ``safe_transfer``) and
``MANIFEST.json`` (what, seed, shapes, sha256, versions).  The graded test
``test_golden.py`` loads them with ``load_golden``; only
``python -m data_scripts.golden_fixtures`` writes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from autograder.sandbox import safe_transfer

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN_FILE = "golden.agv"
MANIFEST_FILE = "MANIFEST.json"
REGENERATE_COMMAND = "python -m data_scripts.golden_fixtures"


def load_golden(fixtures_dir: Path = FIXTURES_DIR) -> list:
    """The stored records (one dict per golden case, in case order), after checking the file against its
    manifest's sha256.  Raises ValueError when they differ."""
    manifest = json.loads((fixtures_dir / MANIFEST_FILE).read_text())
    payload = (fixtures_dir / manifest["file"]).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest["sha256"]:
        raise ValueError(f"{fixtures_dir / manifest['file']}: sha256 {digest} does not match the manifest "
                         f"({manifest['sha256']}); regenerate with `{REGENERATE_COMMAND}`")
    return safe_transfer.decode(payload)
