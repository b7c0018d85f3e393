"""Errors of the release pipeline. Each one says what is wrong and where."""

from typing import Optional


class ReleaseError(Exception):
    """The release cannot be built (or checked) as it is."""


class SourceError(ReleaseError):
    """Something wrong at a line of a source file: `path:line: message`."""

    def __init__(self, path: str, line: Optional[int], message: str):
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
