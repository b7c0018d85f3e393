"""Build submission folders and grade them with the command line.

`grade(folder, workspace)` runs `python -m autograder grade FOLDER --out
WORKSPACE/grading/out --units-only` in a subprocess whose working directory
is `WORKSPACE/grader_cwd`, and returns the exit status, the printed output
and the parsed results.json.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grading_corpus.plausible_bugs import REPOSITORY, SUBMISSION_FILES, reference_sources

STUDENT_DIR = REPOSITORY / "student"
GRADING_TIMEOUT_S = 900
TIMING_FIELDS = ("execution_time",)
RESULTS_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "tests"}
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility", "tags"}
STUB_MESSAGE = "stubbed out by the grading corpus"
_SOLUTION_REGION = re.compile(r"^([ \t]*)# BEGIN SOLUTION\n.*?^[ \t]*# END SOLUTION\n", re.S | re.M)


@dataclass
class Grading:
    """One run of the command line on one submission."""

    returncode: int
    stdout: str
    stderr: str
    results: dict | None
    out_dir: Path
    grader_cwd: Path

    def tests(self) -> list[dict]:
        return self.results["tests"]

    def tagged(self, definition: str) -> list[dict]:
        return [test for test in self.tests() if definition in test["tags"]]

    def score_of(self) -> dict[str, float]:
        return {test["name"]: test["score"] for test in self.tests()}

    def describe(self) -> str:
        """Score table and the grader's last words, for assertion messages."""
        rows = [f"{test['score']:g}/{test['max_score']:g} {test['name']} {test['tags']}: "
                f"{test['output'][:160]!r}" for test in (self.results or {}).get("tests", [])]
        return "\n".join(rows + [f"exit status {self.returncode}", self.stderr[-1500:]])


def write_submission(folder: Path, sources: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SUBMISSION_FILES:
        (folder / name).write_text(sources[name])
    return folder


def stub_out(sources: dict[str, str], definition: str) -> dict[str, str]:
    """`sources` where every solution region inside the top-level `definition` raises NotImplementedError."""
    for name, text in sources.items():
        node = next((n for n in ast.parse(text).body if getattr(n, "name", None) == definition), None)
        if node is None:
            continue
        lines = text.splitlines(keepends=True)
        first = sum(len(line) for line in lines[: node.lineno - 1])
        last = sum(len(line) for line in lines[: node.end_lineno])
        body = _SOLUTION_REGION.sub(
            lambda m: f'{m[1]}raise NotImplementedError("{definition}: {STUB_MESSAGE}")\n', text[first:last]
        )
        if body == text[first:last]:
            raise ValueError(f"{definition} in {name} has no solution region to stub out")
        return {**sources, name: text[:first] + body + text[last:]}
    raise ValueError(f"no top-level definition {definition!r} in {', '.join(sources)}")


def grade(submission: Path, workspace: Path) -> Grading:
    """Grade `submission` (units only) into `workspace/grading/out/results.json`."""
    out_dir = workspace / "grading" / "out"
    grader_cwd = workspace / "grader_cwd"
    grader_cwd.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "DETECTOR_BACKBONE_WEIGHTS": "random"}
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out_dir), "--units-only"],
        cwd=grader_cwd, env=environment, capture_output=True, text=True, timeout=GRADING_TIMEOUT_S,
    )
    results_path = out_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else None
    return Grading(completed.returncode, completed.stdout, completed.stderr, results, out_dir, grader_cwd)


def reference_submission(folder: Path) -> Path:
    return write_submission(folder, reference_sources())


def without_timing(results: dict) -> dict:
    return {key: value for key, value in results.items() if key not in TIMING_FIELDS}


def well_formed_problems(results: dict | None) -> list[str]:
    """What is wrong with a results.json document (empty when it follows the schema)."""
    if results is None:
        return ["no results.json was written"]
    problems = []
    if set(results) != RESULTS_KEYS:
        problems.append(f"top-level keys {sorted(results)}, expected {sorted(RESULTS_KEYS)}")
    tests = results.get("tests") or []
    if not tests:
        problems.append("no graded test in the results")
    for test in tests:
        if set(test) != TEST_KEYS:
            problems.append(f"{test.get('name')!r}: keys {sorted(test)}")
        elif not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"{test['name']!r}: score {test['score']} outside [0, {test['max_score']}]")
    total = round(sum(test.get("score", 0) for test in tests), 4)
    if results.get("score") != total:
        problems.append(f"score {results.get('score')} is not the sum of the tests' scores {total}")
    return problems
