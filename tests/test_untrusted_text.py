"""Text from uploads cannot forge, recolour or hide lines of the results."""
import json
import zipfile

import pytest

from autograder.errors import SubmissionFormatError
from autograder.results.document import TestResult, results_document
from autograder.intake.submission import normalize_submission
from autograder.untrusted_text import MAX_NAME_CHARS, multi_line, one_line

FAKE = "All tests passed"
HOSTILE_NAME = f"hw\n{FAKE}\r\x1b[32m\u202e\u2028end"  # no NUL: zip names end there


def test_one_line_escapes_every_breaking_or_invisible_character():
    shown = one_line(HOSTILE_NAME + "\x00")

    assert shown == "hw\\nAll tests passed\\r\\x1b[32m\\u202e\\u2028end\\x00"
    assert shown.isprintable()
    assert one_line("ok-name_é—1.py") == "ok-name_é—1.py"
    assert len(one_line("x" * 1000)) == MAX_NAME_CHARS


def test_multi_line_keeps_line_breaks_and_drops_escape_sequences():
    text = "a\x1b[2K\x1b[31mred\x1b[0m\r\nb\rc\u2028d\x1b]0;title\x07e\u202ef\x00\tg"

    assert multi_line(text) == "ared\nb\nc\nde" + "f\tg"


def test_a_zip_folder_name_cannot_forge_a_line_of_the_description(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for name in ("common.py", "two_stage_detector.py"):
            archive.writestr(f"{HOSTILE_NAME}/{name}", "x = 1\n")
    (tmp_path / "work").mkdir()

    description = normalize_submission(upload, tmp_path / "work").description

    assert "\n" not in description and "\x1b" not in description and "\u202e" not in description
    assert "hw\\nAll tests passed" in description


def test_names_in_format_errors_are_escaped(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr(f"{HOSTILE_NAME}/notes.txt", "nothing to grade")
    (tmp_path / "work").mkdir()

    with pytest.raises(SubmissionFormatError) as error:
        normalize_submission(upload, tmp_path / "work")

    assert "\n" not in str(error.value) and "hw\\nAll tests passed" in str(error.value)


def test_results_text_never_carries_escape_sequences():
    test = TestResult(name="iou", max_score=1.0, output=f"failed\x1b[2K\r{FAKE}\x1b[32m")

    document = results_document([test], f"Graded\x1b]0;x\x07 \u202eok", execution_time=1.0)

    # Markdown feedback (autograder/results/feedback_markdown.py): plain text goes into a fenced block
    assert document["tests"][0]["output"] == f"```text\nfailed\n{FAKE}\n```"
    assert document["output"].startswith("```text\nGraded ok\n```")
    assert "\x1b" not in json.dumps(document) and "\u202e" not in document["output"]
