"""Scores and the Gradescope ``results.json`` document.

Pure data and formatting: the pytest plugin fills ``TestResult`` objects from
test outcomes; this module turns them into Gradescope's schema
(https://gradescope-autograders.readthedocs.io/en/latest/specs/) and into the
score table printed at the end of a run.  The total is computed here, in the
trusted grader process, never from anything a worker sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

from autograder.results.output_files import write_json_atomically
from autograder.results.feedback_markdown import (OUTPUT_FORMAT, code_block, definition_table_markdown, definition_table_text,
                                         markdown_feedback)
from autograder.untrusted_text import multi_line

MAX_TEST_OUTPUT_CHARS = 4000
MAX_OUTPUT_CHARS = 20_000
MARKDOWN_MARGIN_CHARS = 400  # room for the Markdown around a capped plain text
SCORE_DECIMALS = 4
TRUNCATION_MARK = "\n… (truncated)"


@dataclass
class TestResult:
    """One graded test: its weight, and what the run earned."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    name: str
    max_score: float
    visibility: str = "visible"
    tags: tuple[str, ...] = ()
    fraction: float = 0.0  # of max_score earned, in [0, 1]
    passed: bool = False
    output: str = ""

    @property
    def score(self) -> float:
        return round(self.max_score * self.fraction, SCORE_DECIMALS)

    @property
    def status(self) -> str:
        return "passed" if self.passed and self.score == round(self.max_score, SCORE_DECIMALS) else "failed"

    def to_json(self) -> dict:
        """Gradescope's test entry; the plain ``output`` becomes Markdown (``feedback_markdown``;
        results_document declares the format for every test)."""
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "output": cap(markdown_feedback(cap(multi_line(self.output), MAX_TEST_OUTPUT_CHARS - MARKDOWN_MARGIN_CHARS)),
                          MAX_TEST_OUTPUT_CHARS),
            "visibility": self.visibility,
            "tags": list(self.tags),
        }


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def results_document(tests: list[TestResult], output: str, execution_time: float) -> dict:
    """Gradescope's results.json content, in Markdown: the plain top-level ``output`` as a
    text block, then the points per graded definition; ``score`` is the sum over ``tests``."""
    parts = [code_block(cap(multi_line(output), MAX_OUTPUT_CHARS - MARKDOWN_MARGIN_CHARS))] if output.strip() else []
    if tests:
        parts.append(definition_table_markdown(tests))
    return {
        "score": round(sum(test.score for test in tests), SCORE_DECIMALS),
        "execution_time": round(execution_time, 2),
        "output": cap("\n\n".join(parts), MAX_OUTPUT_CHARS),
        "output_format": OUTPUT_FORMAT,
        "test_output_format": OUTPUT_FORMAT,
        "tests": [test.to_json() for test in tests],
    }


def write_results(path: Path, document: dict) -> None:
    """Write atomically: readers never see a half-written file."""
    write_json_atomically(path, document)


def score_table(tests: list[TestResult]) -> str:
    """Fixed-width tables: one row per test and the total, then the points per graded
    definition (the same rows as results.json's Markdown table)."""
    if not tests:
        return "No graded tests ran."
    width = min(max(len(test.name) for test in tests), 70)
    rows = [f"{'test':<{width}}  {'score':>13}  status"]
    for test in tests:
        name = test.name if len(test.name) <= width else test.name[: width - 1] + "…"
        rows.append(f"{name:<{width}}  {_fraction_text(test.score, test.max_score):>13}  {test.status}")
    total = sum(test.score for test in tests)
    possible = sum(test.max_score for test in tests)
    rows.append(f"{'TOTAL':<{width}}  {_fraction_text(total, possible):>13}")
    return "\n".join(rows) + "\n\n" + definition_table_text(tests)


def _fraction_text(score: float, max_score: float) -> str:
    return f"{score:g} / {max_score:g}"
