"""The staff's grading policy: one TOML file, validated, with defaults that change nothing.

``autograder/grading_policy.toml`` when it exists (inside the grader
package: bundled for Gradescope and hidden from student code), or the file
given with ``--policy``.  The documented template, every key at its default,
is ``data_scripts/templates/grading_policy.toml``.  Sections, all optional:

* ``[visibility]``: ``stages`` (stage name → Gradescope visibility) and
  ``tests`` (test-name glob → visibility; the first matching pattern wins,
  over the stage's).  Tests matched by neither keep their marker's.
* ``[late]``: ``penalty_per_day`` (fraction of the score removed per day or
  part of a day after the due date), ``max_penalty`` (the cap, a fraction),
  ``grace_minutes``.  Read from Gradescope's ``submission_metadata.json``.
* ``[rate_limit]``: ``max_graded`` submissions graded per rolling
  ``window_hours``; 0 is no limit.  Over it, the submission is not graded and
  keeps the results of the last one that was.
* ``[results]``: ``student_identity`` (record the metadata's students in
  ``results.json``'s ``extra_data``).

Unknown sections or keys, wrong types or values are errors whose message
names the file and the key.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path

import autograder
from autograder.results.schema import VISIBILITIES
from autograder.stages import STAGE_NAMES
from autograder.results.toml_compat import tomllib

DEFAULT_POLICY_PATH = Path(autograder.__file__).resolve().parent / "grading_policy.toml"
HOURS_PER_DAY = 24


class PolicyError(ValueError):
    """The policy file is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class VisibilityPolicy:
    stages: dict[str, str] = field(default_factory=dict)
    tests: tuple[tuple[str, str], ...] = ()  # (glob, visibility), first match wins

    def visibility(self, test_name: str, stage: str, marked: str) -> str:
        """The visibility of a test: its first matching pattern's, else its stage's, else ``marked``."""
        for pattern, visibility in self.tests:
            if fnmatch.fnmatchcase(test_name, pattern):
                return visibility
        return self.stages.get(stage, marked)


@dataclass(frozen=True)
class LatePolicy:
    penalty_per_day: float = 0.0  # fraction of the score per day or part of one
    max_penalty: float = 1.0  # fraction
    grace_minutes: float = 0.0

    @property
    def active(self) -> bool:
        return self.penalty_per_day > 0


@dataclass(frozen=True)
class RateLimit:
    max_graded: int = 0  # 0: no limit
    window_hours: float = 24.0

    @property
    def active(self) -> bool:
        return self.max_graded > 0


@dataclass(frozen=True)
class GradingPolicy:
    visibility: VisibilityPolicy = VisibilityPolicy()
    late: LatePolicy = LatePolicy()
    rate_limit: RateLimit = RateLimit()
    student_identity: bool = False
    source: str = "defaults"

    @property
    def needs_metadata(self) -> bool:
        """Whether Gradescope's submission metadata changes anything."""
        return self.late.active or self.rate_limit.active or self.student_identity


def load_policy(path: Path | None = None) -> GradingPolicy:
    """The policy in ``path``; without one, ``DEFAULT_POLICY_PATH`` if it exists, else the defaults."""
    if path is None:
        if not DEFAULT_POLICY_PATH.is_file():
            return GradingPolicy()
        path = DEFAULT_POLICY_PATH
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyError(f"{path}: cannot be read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: not valid TOML: {error}") from None
    return parse_policy(document, str(path))


def parse_policy(document: dict, source: str) -> GradingPolicy:
    """Validate a parsed policy document; ``source`` names it in messages."""
    reader = _Reader(source)
    reader.keys(document, "", {"visibility", "late", "rate_limit", "results"})
    visibility = reader.table(document, "visibility")
    reader.keys(visibility, "visibility", {"stages", "tests"})
    stages = reader.table(visibility, "stages", "visibility")
    for stage, value in stages.items():
        if stage not in STAGE_NAMES:
            raise PolicyError(f"{source}: [visibility.stages] {stage}: unknown stage; stages: {', '.join(STAGE_NAMES)}")
        reader.visibility(value, f"[visibility.stages] {stage}")
    tests = reader.table(visibility, "tests", "visibility")
    for pattern, value in tests.items():
        reader.visibility(value, f"[visibility.tests] {pattern!r}")
    late = reader.table(document, "late")
    reader.keys(late, "late", {"penalty_per_day", "max_penalty", "grace_minutes"})
    rate = reader.table(document, "rate_limit")
    reader.keys(rate, "rate_limit", {"max_graded", "window_hours"})
    results = reader.table(document, "results")
    reader.keys(results, "results", {"student_identity"})
    identity = results.get("student_identity", False)
    if not isinstance(identity, bool):
        raise PolicyError(f"{source}: [results] student_identity: must be true or false, got {identity!r}")
    max_graded = rate.get("max_graded", 0)
    if isinstance(max_graded, bool) or not isinstance(max_graded, int) or max_graded < 0:
        raise PolicyError(f"{source}: [rate_limit] max_graded: must be a whole number >= 0, got {max_graded!r}")
    return GradingPolicy(
        visibility=VisibilityPolicy(dict(stages), tuple(tests.items())),
        late=LatePolicy(
            penalty_per_day=reader.number(late, "late", "penalty_per_day", 0.0, 0.0, 1.0),
            max_penalty=reader.number(late, "late", "max_penalty", 1.0, 0.0, 1.0),
            grace_minutes=reader.number(late, "late", "grace_minutes", 0.0, 0.0, math.inf),
        ),
        rate_limit=RateLimit(max_graded, reader.number(rate, "rate_limit", "window_hours", 24.0, 0.0, math.inf,
                                                       positive=True)),
        student_identity=identity,
        source=source,
    )


class _Reader:
    """Typed look-ups whose errors name the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def keys(self, table: dict, section: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            where = f"[{section}]" if section else "top level"
            raise PolicyError(f"{self.source}: {where}: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(allowed))}")

    def table(self, parent: dict, key: str, section: str = "") -> dict:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            name = f"{section}.{key}" if section else key
            raise PolicyError(f"{self.source}: [{name}] must be a table, got {value!r}")
        return value

    def visibility(self, value: object, where: str) -> None:
        if value not in VISIBILITIES:
            raise PolicyError(f"{self.source}: {where}: visibility must be one of {', '.join(VISIBILITIES)}, "
                              f"got {value!r}")

    def number(self, table: dict, section: str, key: str, default: float, low: float, high: float,
               positive: bool = False) -> float:
        value = table.get(key, default)
        bounds = f"> {low:g}" if positive else f"within [{low:g}, {high:g}]" if high < math.inf else f">= {low:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                or (positive and value <= low) or math.isnan(value):
            raise PolicyError(f"{self.source}: [{section}] {key}: must be a number {bounds}, got {value!r}")
        return float(value)
