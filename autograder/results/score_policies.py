"""Late penalty, rate limit and student identity: a grading policy applied to a results document.

Computed in the trusted grader from Gradescope's submission metadata (never
from anything student code could touch), after grading:

* **Late**: ``days`` = days or part of a day between the due date (plus the
  grace) and the submission; the top-level ``score`` loses
  ``min(days * penalty_per_day, max_penalty)`` of itself.  Tests keep their
  own scores; ``output`` starts with the computation.
* **Rate limit**: when ``max_graded`` submissions were already graded in the
  window before this one, this one is not graded (``rate_limited_document``):
  it carries the tests and score of the last graded submission, marked in
  ``extra_data`` so that it does not count as graded itself, and says when
  the next one will be.  With no graded submission yet it scores 0.
* **Identity**: ``extra_data.students`` lists the submitters.

``extra_data`` appears only for what the policy turns on, so the default
policy leaves results.json as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from autograder.results.grading_policy import HOURS_PER_DAY, GradingPolicy, LatePolicy
from autograder.results.document import MAX_OUTPUT_CHARS, SCORE_DECIMALS, cap
from autograder.results.schema import TEST_KEYS
from autograder.intake.submission_metadata import SubmissionMetadata

RATE_LIMITED_KEY = "rate_limited"  # in extra_data: this result is a copy, not a grading
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class LatePenalty:
    days: int  # days or parts of a day late, after the grace; 0 when on time
    fraction: float  # of the score removed

    def describe(self, before: float, after: float) -> str:
        return (f"Late policy: submitted {self.days} day{'s' if self.days != 1 else ''} late (a part of a day "
                f"counts as a day): {self.fraction:.0%} of the score is removed, {before:g} → {after:g}.")


def late_penalty(policy: GradingPolicy, metadata: SubmissionMetadata) -> LatePenalty:
    late = policy.late
    if not late.active or metadata.due_date is None:
        return LatePenalty(0, 0.0)
    overdue_s = (metadata.created_at - metadata.due_date - timedelta(minutes=late.grace_minutes)).total_seconds()
    days = max(0, math.ceil(overdue_s / SECONDS_PER_DAY))
    return LatePenalty(days, round(min(days * late.penalty_per_day, late.max_penalty), SCORE_DECIMALS))


def apply_policy(document: dict, policy: GradingPolicy, metadata: SubmissionMetadata | None) -> dict:
    """``document`` with the late penalty and identity of ``policy`` (a new dict; visibility is the plugin's)."""
    if metadata is None:
        return document
    document = dict(document)
    extra = dict(document.get("extra_data", {}))
    penalty = late_penalty(policy, metadata)
    if penalty.days:
        before = document["score"]
        after = round(before * (1 - penalty.fraction), SCORE_DECIMALS)
        document["score"] = after
        document["output"] = cap(f"{penalty.describe(before, after)}\n{document.get('output', '')}",
                                 MAX_OUTPUT_CHARS)
        extra["late"] = {"days": penalty.days, "penalty": penalty.fraction, "score_before_penalty": before}
    if policy.student_identity:
        extra["submission_id"] = metadata.submission_id
        extra["students"] = [student.to_json() for student in metadata.students]
    if extra:
        document["extra_data"] = extra
    return document


def graded_in_window(policy: GradingPolicy, metadata: SubmissionMetadata) -> list:
    """The previous submissions graded (not rate-limited copies) in the window before this one."""
    start = metadata.created_at - timedelta(hours=policy.rate_limit.window_hours)
    return [item for item in metadata.previous
            if start < item.time <= metadata.created_at and not _was_rate_limited(item.results)]


def is_rate_limited(policy: GradingPolicy, metadata: SubmissionMetadata | None) -> bool:
    if metadata is None or not policy.rate_limit.active:
        return False
    return len(graded_in_window(policy, metadata)) >= policy.rate_limit.max_graded


def rate_limited_document(policy: GradingPolicy, metadata: SubmissionMetadata) -> dict:
    """The results of a submission over the rate limit: the last graded one's, and why."""
    window = graded_in_window(policy, metadata)
    next_time = window[-policy.rate_limit.max_graded].time + timedelta(hours=policy.rate_limit.window_hours)
    graded = [item for item in metadata.previous if not _was_rate_limited(item.results)]
    last = graded[-1] if graded else None
    limit = policy.rate_limit
    hours = f"{limit.window_hours:g} hours" if limit.window_hours != HOURS_PER_DAY else "24 hours"
    lines = [f"Rate limit: {limit.max_graded} graded submission{'s' if limit.max_graded != 1 else ''} per {hours}, "
             f"and {len(window)} were graded in the {hours} before this one, so this submission was NOT graded.",
             f"Your next submission will be graded if made after {_when(next_time)}."]
    if last is not None:
        lines.append(f"Your score stays that of your last graded submission ({_when(last.time)}): "
                     f"{last.score:g}. Its results are shown below.")
        score, tests = last.score, [_known_keys(test) for test in last.results.get("tests", [])
                                    if isinstance(test, dict)]
    else:
        lines.append("No earlier submission was graded, so the score is 0.")
        score, tests = 0.0, []
    document = {"score": round(max(score, 0.0), SCORE_DECIMALS), "execution_time": 0.0,
                "output": cap("\n".join(lines), MAX_OUTPUT_CHARS), "tests": tests,
                "extra_data": {RATE_LIMITED_KEY: True}}
    return apply_policy(document, _without_late(policy), metadata)


def _was_rate_limited(results: dict) -> bool:
    extra = results.get("extra_data") if isinstance(results, dict) else None
    return isinstance(extra, dict) and extra.get(RATE_LIMITED_KEY) is True


def _without_late(policy: GradingPolicy) -> GradingPolicy:
    """The copied score was already penalised when it was graded."""
    return replace(policy, late=LatePolicy())


def _known_keys(test: dict) -> dict:
    """A previous test result with only the keys results.json may hold."""
    return {key: value for key, value in test.items() if key in TEST_KEYS}


def _when(time: datetime) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z")
