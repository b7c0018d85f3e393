"""A results.json as the JSON body of a GitHub check run on the graded commit.

    python -m autograder.results.check_run results/results.json --sha SHA   # graded
    python -m autograder.results.check_run --grader-failed --sha SHA        # no usable results.json

Used by the grading repository's workflow template
(``data_scripts/templates/github/grading.yml``), which posts the body to
``POST /repos/{student repository}/check-runs``.  The student sees it on
their commit: the title holds the score, the summary the score table of
``score_summary`` restricted to the tests Gradescope would show now
(``visibility: visible``); the others are counted, never named.

Conclusions: ``success`` for full marks, ``neutral`` for any other score (a
score is information, not a failed build), ``failure`` when the grader
produced no test results (its message says what happened).  Exit status 1,
with the reason on stderr, when RESULTS is missing or not a valid results
file; the workflow then posts the ``--grader-failed`` body.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from autograder.results.schema import ResultsSchemaError, load_results
from autograder.results.score_summary import markdown_summary, number_text

CHECK_NAME = "Autograder"
SHOWN_VISIBILITY = "visible"  # Gradescope's other visibilities withhold a test from the student for now
MAX_SUMMARY_CHARS = 65535  # GitHub's limit on output.summary
GRADER_FAILED_TEXT = ("The grader failed before it could grade this commit. "
                      "Please tell the course staff; this is not your fault.")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def check_run_body(results: dict, head_sha: str) -> dict:
    """The check run reporting ``results`` (a valid results.json document) on commit ``head_sha``."""
    tests = results.get("tests", [])
    shown = [test for test in tests if test.get("visibility", SHOWN_VISIBILITY) == SHOWN_VISIBILITY]
    score = sum(test.get("score", 0) for test in shown) if tests else results.get("score", 0)
    possible = sum(test.get("max_score", 0) for test in shown)
    summary = markdown_summary({**results, "tests": shown, "score": score})
    if len(shown) < len(tests):
        summary += f"\n{len(tests) - len(shown)} more test(s) are graded but not shown yet.\n"
    if not tests:
        conclusion, title = "failure", "Not graded: see the message below"
    else:
        conclusion = "success" if shown and score >= possible else "neutral"
        title = f"Score: {number_text(score)} / {number_text(possible)}"
        if len(shown) < len(tests):
            title += " (shown tests)"
    return _body(head_sha, conclusion, title, summary)


def grader_failed_body(head_sha: str) -> dict:
    """The check run saying the grader produced nothing usable for ``head_sha``."""
    return _body(head_sha, "failure", "Not graded: the grader failed", GRADER_FAILED_TEXT + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.results.check_run", description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", help="a results.json file")
    parser.add_argument("--sha", required=True, help="the graded commit (40 lowercase hex digits)")
    parser.add_argument("--grader-failed", action="store_true", help="report that no usable results exist")
    args = parser.parse_args(argv)
    if not _SHA.match(args.sha):
        parser.error(f"--sha must be 40 lowercase hexadecimal digits, got {args.sha!r}")
    if args.grader_failed == (args.results is not None):
        parser.error("give either RESULTS or --grader-failed")
    if args.grader_failed:
        body = grader_failed_body(args.sha)
    else:
        try:
            body = check_run_body(load_results(args.results), args.sha)
        except ResultsSchemaError as error:
            print(f"check_run: {error}", file=sys.stderr)
            return 1
    print(json.dumps(body, ensure_ascii=False, indent=1))
    return 0


def _body(head_sha: str, conclusion: str, title: str, summary: str) -> dict:
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[: MAX_SUMMARY_CHARS - 1] + "…"
    return {"name": CHECK_NAME, "head_sha": head_sha, "status": "completed", "conclusion": conclusion,
            "output": {"title": title, "summary": summary}}


if __name__ == "__main__":
    sys.exit(main())
