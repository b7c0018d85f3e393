"""Feedback students can read: results.json text in Gradescope's Markdown (``"md"``).

Pure formatting, no grading. Every text that may carry student-controlled
characters (exception messages, values, file names) is put in a code span or
a fenced block, or has Markdown's active characters escaped, so that it
renders as text and never as links, images or HTML.

* ``markdown_feedback``: one test's plain message -> Markdown; a judge message
  (`` `what`: ... expected E, got G — hint ``) becomes a small expected/got
  table and a hint;
* ``definition_rows`` / ``definition_table_text`` / ``definition_table_markdown``:
  points per graded definition (the terminal prints the text table);
* ``bar_chart``: a compact text chart of the notebook stage's per-class AP
  (Gradescope's Markdown shows no inline image).
"""

from __future__ import annotations

import re

OUTPUT_FORMAT = "md"  # Gradescope's name for Markdown output
NOTEBOOK_ROW = "notebook"  # definition-table row of the tests tagged with no definition
_ACTIVE = re.compile(r"([\\`*\[\]<>!|#])")
_JUDGE_MESSAGE = re.compile(r"^`(?P<what>[^`\n]+)`: (?P<head>.*?)expected (?P<expected>.+?), got (?P<got>.+?)"
                            r"(?: — (?P<hint>.+))?$")


def escape(text: str) -> str:
    """``text`` as literal Markdown text: active characters backslash-escaped, on one line."""
    return _ACTIVE.sub(r"\\\1", " ".join(text.split()))


def code_span(text: str) -> str:
    """``text`` as an inline code span (its backticks cannot close the span)."""
    text = " ".join(text.split())
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str, info: str = "text") -> str:
    """``text`` as a fenced code block (its backticks cannot close the fence)."""
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def markdown_feedback(text: str) -> str:
    """One test's plain feedback as Markdown; "" stays ""."""
    if not text.strip():
        return ""
    lines = text.strip("\n").split("\n")
    blocks = []
    for index, line in enumerate(lines):
        judged = _JUDGE_MESSAGE.match(line)
        if judged:
            blocks.append(_judge_markdown(judged))
            continue
        rest = "\n".join(lines[index:])
        blocks.append(escape(rest) if len(lines) == index + 1 else code_block(rest))
        break
    return "\n\n".join(blocks)


def _judge_markdown(match: re.Match) -> str:
    head = match["head"].strip().rstrip(":;,")
    parts = [f"**{code_span(match['what'])}**" + (f": {escape(head)}" if head else "")]
    parts.append("| expected | got |\n| --- | --- |\n"
                 f"| {_table_cell(code_span(match['expected']))} | {_table_cell(code_span(match['got']))} |")
    if match["hint"]:
        parts.append(f"**Hint:** {escape(match['hint'])}")
    return "\n\n".join(parts)


def _table_cell(text: str) -> str:
    """GitHub-flavoured tables split cells at every unescaped pipe, even inside code spans."""
    return text.replace("|", "\\|")


# ---------------------------------------------------------- definition table
def definition_rows(tests) -> list[tuple[str, int, int, float, float]]:
    """(definition, tests passed, tests, score, max score) per graded definition, in the
    order tests first name them; tests without a tag form the "notebook" row."""
    rows: dict[str, list] = {}
    for test in tests:
        for name in test.tags or (NOTEBOOK_ROW,):
            row = rows.setdefault(name, [0, 0, 0.0, 0.0])
            row[0] += test.status == "passed"
            row[1] += 1
            row[2] += test.score
            row[3] += test.max_score
    return [(name, passed, count, round(score, 4), round(possible, 4))
            for name, (passed, count, score, possible) in rows.items()]


def definition_table_text(tests) -> str:
    """The per-definition points as a fixed-width table (the terminal's)."""
    rows = definition_rows(tests)
    if not rows:
        return "No graded tests ran."
    width = max(len("definition"), *(len(row[0]) for row in rows))
    lines = [f"{'definition':<{width}}  {'tests passed':>12}  {'points':>13}"]
    for name, passed, count, score, possible in rows:
        lines.append(f"{name:<{width}}  {f'{passed} / {count}':>12}  {f'{score:g} / {possible:g}':>13}")
    return "\n".join(lines)


def definition_table_markdown(tests) -> str:
    """The per-definition points as a Markdown table, with the total."""
    rows = definition_rows(tests)
    lines = ["| | definition | tests passed | points |", "| --- | --- | ---: | ---: |"]
    for name, passed, count, score, possible in rows:
        mark = "✅" if passed == count else "❌"
        lines.append(f"| {mark} | {code_span(name)} | {passed} / {count} | {score:g} / {possible:g} |")
    total = round(sum(t.score for t in tests), 4)
    possible = round(sum(t.max_score for t in tests), 4)
    lines.append(f"| | **total** | | **{total:g} / {possible:g}** |")
    return "\n".join(lines)


# ------------------------------------------------------------------ charts
def bar_chart(values: dict[str, float], width: int = 30) -> str:
    """One bar per key (e.g. AP per class, in [0, 1]), lowest first."""
    if not values:
        return "(nothing to plot)"
    label = max(len(name) for name in values)
    lines = []
    for name, value in sorted(values.items(), key=lambda item: item[1]):
        filled = round(max(0.0, min(1.0, value)) * width)
        lines.append(f"{name:<{label}} |{'#' * filled}{' ' * (width - filled)}| {value:.2f}")
    return "\n".join(lines)
