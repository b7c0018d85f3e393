"""Course-specific values of the release, set by staff in `notebooks/release_settings.json`.

    colab_repository   GitHub "owner/name" where the student notebook is published
                       (the notebook's "Open in Colab" badge links there)
    colab_branch       its branch

The committed file holds placeholders (`PLACEHOLDERS`). A build for students
(`python -m data_scripts.release`) refuses to package a release that still
contains one, naming the file and line; `--draft` builds anyway (for trying
the release out), and `--check` (the drift check) does not look.
"""

import json
from dataclasses import dataclass
from typing import Dict, List, Set, Tuple

from . import release_paths
from .release_errors import ReleaseError

# Text that marks a value staff have not configured yet.
PLACEHOLDERS = ("COURSE-ORG",)
# Commands and folders of the course repository, which students do not have.
STAFF_ONLY_REFERENCES = ("data_scripts", "synthetic_voc", "autograder/", "python -m autograder", "benchmarks/")
_FIELDS = ("colab_repository", "colab_branch")


@dataclass(frozen=True)
class ReleaseSettings:
    colab_repository: str
    colab_branch: str

    @property
    def colab_url(self) -> str:
        return (f"https://colab.research.google.com/github/{self.colab_repository}/blob/"
                f"{self.colab_branch}/{release_paths.STUDENT_NOTEBOOK}")


def parse_settings(text: str, path: str = release_paths.RELEASE_SETTINGS) -> ReleaseSettings:
    try:
        values = json.loads(text)
    except ValueError as error:
        raise ReleaseError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(values, dict) or sorted(values) != sorted(_FIELDS):
        raise ReleaseError(f"{path}: expected an object with exactly the keys {', '.join(_FIELDS)}")
    bad = [key for key in _FIELDS if not isinstance(values[key], str) or not values[key].strip()]
    if bad:
        raise ReleaseError(f"{path}: {', '.join(bad)} must be non-empty strings")
    return ReleaseSettings(**values)


def find_unshippable(members: Dict[str, str], allowed_lines: Set[str]) -> List[Tuple[str, int, str]]:
    """(member, line, what) for every placeholder or staff-only reference in the release's texts;
    `allowed_lines` (stripped) are notes for staff that may name the repository's tools."""
    found = []
    for name, text in sorted(members.items()):
        for number, line in enumerate(text.splitlines(), start=1):
            for word in PLACEHOLDERS:
                if word in line:
                    found.append((name, number, f"placeholder {word!r}: set it in {release_paths.RELEASE_SETTINGS}"))
            for word in STAFF_ONLY_REFERENCES:
                if word in line and line.strip() not in allowed_lines:
                    found.append((name, number, f"{word!r} is not in the student release"))
    return found
