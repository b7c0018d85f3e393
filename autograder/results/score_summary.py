"""A results.json as a Markdown score table.

    python -m autograder.results.score_summary results/results.json   # Markdown (e.g. a GitHub job summary)

Used by the grading repository's workflow template
(``data_scripts/templates/github/grading.yml``) for staff, and by
``autograder.results.check_run`` for students.  It shows every test in the file it is
given, whatever its Gradescope visibility.  Exit status 1, with the reason on
stderr, when the file is missing or not a valid results file.
"""

from __future__ import annotations

import argparse
import re
import sys

from autograder.results.schema import ResultsSchemaError, load_results

TABLE_FEEDBACK_CHARS = 300  # of one test's feedback in the table
_STATUS_MARK = {"passed": "✅", "failed": "❌"}


def markdown_summary(results: dict) -> str:
    """Total, the top-level output, then one table row per test."""
    tests = results.get("tests", [])
    total = results.get("score", sum(test.get("score", 0) for test in tests))
    possible = sum(test.get("max_score", 0) for test in tests)
    lines = ["## Autograder score", "", f"**{number_text(total)} / {number_text(possible)}**" if tests else
             f"**{number_text(total)}**", ""]
    if results.get("output") and results.get("output_format") == "md":
        lines += [results["output"], ""]  # already Markdown (the grader's own)
    elif results.get("output"):
        lines += ["```", results["output"].replace("```", "'''"), "```", ""]
    if tests:
        lines += ["| | test | score | feedback |", "| --- | --- | ---: | --- |"]
        for test in tests:
            mark = _STATUS_MARK.get(test.get("status", ""), "")
            score = f"{number_text(test.get('score', 0))} / {number_text(test.get('max_score', 0))}"
            lines.append(f"| {mark} | {_cell(test.get('name', ''))} | {score} | "
                         f"{_cell(_short(_unfenced(test.get('output', ''))))} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.results.score_summary", description=__doc__.split("\n")[0])
    parser.add_argument("results", help="a results.json file")
    args = parser.parse_args(argv)
    try:
        results = load_results(args.results)
    except ResultsSchemaError as error:
        print(f"score_summary: {error}", file=sys.stderr)
        return 1
    print(markdown_summary(results), end="")
    return 0


def number_text(value: float) -> str:
    return f"{round(float(value), 4):g}"


def _short(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= TABLE_FEEDBACK_CHARS else first[: TABLE_FEEDBACK_CHARS - 1] + "…"


def _unfenced(text: str) -> str:
    """The text of a Markdown feedback without its code-fence lines (a table cell holds one line)."""
    return "\n".join(line for line in text.splitlines() if not re.fullmatch(r"`{3,}\w*", line.strip()))


def _cell(text: str) -> str:
    """Safe inside a Markdown table cell: no pipes, no line breaks, no HTML."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    sys.exit(main())
