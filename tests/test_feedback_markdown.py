"""Students' feedback in Gradescope's Markdown: formatting, safety, tables, charts."""
import json
import re
import pytest

from autograder.results import feedback_markdown as md
from autograder.results.document import TestResult, results_document, score_table
from autograder.results.schema import schema_problems
from tests.test_results import REPOSITORY as ROOT, run_suite


def test_a_judge_message_becomes_what_expected_got_and_hint():
    text = md.markdown_feedback("`iou(boxes1, boxes2)`: expected shape (7, 11), got (11, 7) — are boxes1 and "
                                "boxes2 swapped? iou[i, j] pairs boxes1[i] with boxes2[j]")
    assert text.splitlines() == [
        "**`iou(boxes1, boxes2)`**", "",
        "| expected | got |", "| --- | --- |", "| `shape (7, 11)` | `(11, 7)` |", "",
        r"**Hint:** are boxes1 and boxes2 swapped? iou\[i, j\] pairs boxes1\[i\] with boxes2\[j\]",
    ]
    values = md.markdown_feedback("`nms`: 2 of 15 values differ; first at index (3,): expected 4, got 7")
    assert values.startswith("**`nms`**: 2 of 15 values differ; first at index (3,)\n\n| expected | got |")


def test_other_messages_stay_readable_text():
    assert md.markdown_feedback("") == ""
    assert md.markdown_feedback("nms should keep 4 boxes, kept 3") == "nms should keep 4 boxes, kept 3"
    traceback = "Importing common.py failed:\n  File \"common.py\", line 3\nValueError: boom"
    assert md.markdown_feedback(traceback) == f"```text\n{traceback}\n```"


@pytest.mark.parametrize("hostile", [
    "![tracker](http://example.com/pixel.png)", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "``` closes the fence?", "| a | b |",
])
def test_student_text_never_renders_as_markdown(hostile):
    """Text from student code lands in a code span, a fenced block or escaped text."""
    single = md.markdown_feedback(f"StudentException: {hostile}")
    assert "![" not in single.replace("\\!", "") and "<img" not in single.replace("\\<", "")
    block = md.markdown_feedback(f"Traceback:\n{hostile}\n```\n<b>")
    fence = block.split("\n", 1)[0][: -len("text")]
    assert block.endswith("\n" + fence) and block.count(fence) == 2  # no inner line closes the fence
    judged = md.markdown_feedback(f"`x`: expected 1, got {hostile}")
    row = judged.split("\n")[4]
    assert row.startswith("| `1` | ") and row.endswith(" |")
    got_cell = row[len("| `1` | "):-len(" |")]
    assert got_cell.startswith("`") and "|" not in got_cell.replace("\\|", "")


def test_results_document_declares_markdown_and_tabulates_definitions():
    tests = [TestResult("iou: a", 2, tags=("iou",), fraction=1.0, passed=True),
             TestResult("iou: b", 3, tags=("iou",), output="`iou`: expected 1, got 2"),
             TestResult("notebook: loss", 5, output="The notebook stopped:\ncell 3")]
    document = results_document(tests, "Graded: folder: <common.py>", 1.0)
    assert schema_problems(json.loads(json.dumps(document))) == []
    assert (document["output_format"], document["test_output_format"]) == ("md", "md")
    assert document["output"].startswith("```text\nGraded: folder: <common.py>\n```\n\n")
    assert "| ❌ | `iou` | 1 / 2 | 2 / 5 |" in document["output"]
    assert "| ❌ | `notebook` | 0 / 1 | 0 / 5 |" in document["output"]
    assert "| | **total** | | **2 / 10** |" in document["output"]
    assert document["tests"][1]["output"].startswith("**`iou`**")
    assert document["tests"][2]["output"] == "```text\nThe notebook stopped:\ncell 3\n```"


def test_the_terminal_prints_the_same_definition_rows():
    tests = [TestResult("iou: a", 2, tags=("iou",), fraction=1.0, passed=True),
             TestResult("nms: a", 1, tags=("nms",)), TestResult("FasterRCNN & nms", 2, tags=("nms", "FasterRCNN"))]
    terminal = score_table(tests).split("\n\n")[1].splitlines()
    markdown = results_document(tests, "", 0.0)["output"].splitlines()[2:-1]
    assert [line.split()[0] for line in terminal[1:]] == ["iou", "nms", "FasterRCNN"]
    for text_row, markdown_row, (name, passed, count, score, possible) in zip(terminal[1:], markdown,
                                                                             md.definition_rows(tests)):
        assert text_row.split() == [name, str(passed), "/", str(count), f"{score:g}", "/", f"{possible:g}"]
        assert f"| `{name}` | {passed} / {count} | {score:g} / {possible:g} |" in markdown_row


def test_bar_chart_lists_the_lowest_first():
    chart = md.bar_chart({"dog": 0.9, "cat": 0.25}, width=8)
    assert chart.splitlines() == ["cat |##      | 0.25", "dog |####### | 0.90"]


# ------------------------------------- the notebook stage shows its chart, failing or not
FAILING_NOTEBOOK_SUITE = """\
import types

import pytest

from autograder import test_notebook as graded


@pytest.mark.points(5)
def test_map(points, monkeypatch):
    \"\"\"notebook: map\"\"\"
    result = types.SimpleNamespace(map=0.05, ap_per_class={"car": 0.1, "dog": 0.0})
    monkeypatch.setattr(graded, "map_summary", lambda run: types.SimpleNamespace(trained=result, untrained=result))
    monkeypatch.setattr(graded, "PROFILE", types.SimpleNamespace(min_map=0.4))
    graded.test_validation_map(None, None, points)
"""


def test_a_failing_notebook_stage_shows_its_ap_per_class(tmp_path):
    """The graded mAP test, failing, still shows the student its chart."""
    completed, document = run_suite(tmp_path, ROOT / "reference", FAILING_NOTEBOOK_SUITE)
    assert document is not None, completed.stdout[-3000:] + completed.stderr[-3000:]
    (mean_ap,) = document["tests"]
    assert (mean_ap["status"], mean_ap["score"]) == ("failed", 0)
    assert mean_ap["output"].startswith("```text\nAP@0.5 per class:\n")
    assert re.search(r"^dog \|\s+\| 0\.00$", mean_ap["output"], re.M)
    assert re.search(r"^car \|#+\s*\| 0\.10$", mean_ap["output"], re.M)
    assert "Validation mAP@0.5 is 0.050" in mean_ap["output"]
