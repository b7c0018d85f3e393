"""Solution markers are strict: every malformed use is an error at file:line."""

import pytest

from data_scripts.release.markers import Region, find_regions
from data_scripts.release.release_errors import SourceError

PATH = "reference/example.py"


def source(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_regions_are_found_with_their_lines_and_indentation():
    text = source(
        "def f():",  # 1
        "    # BEGIN SOLUTION",  # 2
        "    return 1",  # 3
        "    # END SOLUTION",  # 4
        "",  # 5
        "def g():",  # 6
        "\t# BEGIN SOLUTION",  # 7
        "\treturn 2",  # 8
        "\t# END SOLUTION",  # 9
    )
    assert find_regions(text, PATH) == [Region(PATH, 2, 4, "    "), Region(PATH, 7, 9, "\t")]
    assert Region(PATH, 2, 4, "    ").body(text.splitlines()) == ["    return 1"]


def test_a_file_without_markers_has_no_regions():
    assert find_regions(source("x = 1"), PATH) == []


@pytest.mark.parametrize(
    "lines, line, words",
    [
        (
            ["def f():", "    # BEGIN SOLUTION", "    # BEGIN SOLUTION", "    x = 1", "    # END SOLUTION"],
            3,
            "nested",
        ),
        (["def f():", "    # BEGIN SOLUTION", "    x = 1"], 2, "unterminated"),
        (["def f():", "    x = 1", "    # END SOLUTION"], 3, "stray"),
        (["def f():", "    # BEGIN SOLUTION", "    # END SOLUTION"], 2, "empty"),
        (["def f():", "    # BEGIN SOLUTION", "", "    # END SOLUTION"], 2, "empty"),
        (["def f():", "    # BEGIN SOLUTION", "    x = 1", "  # END SOLUTION"], 4, "indented unlike"),
        (["def f():", "    #BEGIN SOLUTION", "    x = 1"], 2, "malformed"),
        (["def f():", "    # begin solution", "    x = 1"], 2, "malformed"),
        (["def f():", "    x = 1  # END SOLUTION"], 2, "malformed"),
        (["def f():", "    # BEGIN SOLUTION: the loop", "    x = 1"], 2, "malformed"),
        (["def f():", "    # BEGIN SOLUTION ", "    x = 1", "    # END SOLUTION"], 2, "malformed"),
    ],
    ids=[
        "nested",
        "unterminated",
        "stray-end",
        "empty",
        "blank-only",
        "end-indentation",
        "no-space",
        "lower-case",
        "after-code",
        "trailing-text",
        "trailing-space",
    ],
)
def test_bad_markers_raise_at_file_and_line(lines, line, words):
    with pytest.raises(SourceError) as raised:
        find_regions(source(*lines), PATH)
    assert str(raised.value).startswith(f"{PATH}:{line}: ")
    assert words in str(raised.value)
    assert (raised.value.path, raised.value.line) == (PATH, line)
