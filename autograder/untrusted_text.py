"""Text that came from an upload (names, paths, messages), made safe to show in results.

Student-controlled text must not forge lines of the grader's own output (a
folder named ``"x\\nAll tests passed"``), recolour or hide it (ANSI escape
sequences, bidirectional overrides) or break it (control characters).

* ``one_line`` is for names and paths: every character that could break or
  disguise the line is written as a visible escape, and the text is cut.
* ``multi_line`` is for messages (tracebacks, printed output): line breaks are
  kept as ``\\n``, escape sequences and other invisible characters removed.
  ``results`` applies it to every output text it writes.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 120
# ESC [ ... final byte (CSI: colours, cursor moves), ESC ] ... BEL or ESC \ (OSC: titles, links),
# or ESC and one more character.
_ANSI_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|\x9b[0-?]*[ -/]*[@-~]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Unicode categories that are invisible or break lines: controls, formats (bidi overrides,
# zero-width characters), line and paragraph separators, unassigned and private-use code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})


def _unsafe(character: str) -> bool:
    return unicodedata.category(character) in _UNSAFE_CATEGORIES


def one_line(text: object, limit: int = MAX_NAME_CHARS) -> str:
    """``text`` (a name or path from an upload) on one visible line: unsafe characters
    become escapes (``\\n``, ``\\x1b``, ``\\u202e``), and more than ``limit`` characters are cut."""
    shown = "".join(character.encode("unicode_escape").decode("ascii") if _unsafe(character) else character
                    for character in str(text))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def multi_line(text: str) -> str:
    """``text`` with its line breaks as ``\\n`` and tabs kept, escape sequences and every other
    invisible or control character removed."""
    text = _LINE_BREAKS.sub("\n", _ANSI_SEQUENCE.sub("", text))
    return "".join(character for character in text if character in "\n\t" or not _unsafe(character))
