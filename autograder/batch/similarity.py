"""Similarity report of a class: ``python -m autograder similarity SUBMISSIONS --out DIR`` (or ``batch --similarity``).

Each submission is normalised as the grader normalises it (``submission``:
a folder, notebook or zip becomes ``common.py`` + ``two_stage_detector.py``)
and its two files are joined into one text per student.  copydetect
(winnowing over tokenised code: variable, function and object names and
strings are abstracted, so renaming changes nothing, and fingerprints do not
depend on the order of functions) compares every pair; the release stubs and
the provided course code (``BOILERPLATE``) are boilerplate, whose
fingerprints never count.

Output in DIR: ``similarity.csv`` — one row per pair, ``score`` (the
smaller of the two shares of a submission's code found in the other, 0..1:
symmetric, and a submission that is nearly all boilerplate cannot reach 1
by sharing a few lines) then both shares and the overlapping tokens, most
similar first (ties by ids) —
and ``similarity.html``, copydetect's report with the matched code
highlighted (pairs above ``HTML_DISPLAY_THRESHOLD``).  Submissions that
cannot be normalised are listed on stderr and left out.  The report is for
staff to read: a high score is a reason to look, not a verdict.

Needs copydetect (the ``staff`` extra); without it, a message says so.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import SubmissionFormatError
from autograder.results.output_files import make_private_folder
from autograder.submission_layout import SUBMISSION_FILES
from autograder.intake.submission import normalize_submission

REPOSITORY_DIR = Path(__file__).resolve().parents[2]
BOILERPLATE = (  # what every student starts from: its fingerprints are never similarity
    REPOSITORY_DIR / "student" / "common.py",
    REPOSITORY_DIR / "student" / "two_stage_detector.py",
    REPOSITORY_DIR / "student" / "detection_helpers.py",
    REPOSITORY_DIR / "student" / "voc_map.py",
)
CSV_FILE = "similarity.csv"
HTML_FILE = "similarity.html"
CSV_COLUMNS = ("submission_a", "submission_b", "score", "similarity_a", "similarity_b", "overlap_tokens")
HTML_DISPLAY_THRESHOLD = 0.33  # copydetect's default: pairs below it are only in the CSV
SIMILARITY_DECIMALS = 4
NOISE_THRESHOLD = 25  # copydetect's defaults: k-gram length and the match it always detects, in tokens
GUARANTEE_THRESHOLD = 30
EXIT_FAILED = 2


class SimilarityError(RuntimeError):
    """The report cannot be made; the message says why."""


@dataclass(frozen=True)
class SimilarPair:
    a: str
    b: str
    similarity_a: float  # share of a's code found in b
    similarity_b: float
    overlap_tokens: int

    @property
    def score(self) -> float:
        return min(self.similarity_a, self.similarity_b)

    def row(self) -> list[str]:
        return [self.a, self.b, *(f"{value:.{SIMILARITY_DECIMALS}f}" for value in
                                  (self.score, self.similarity_a, self.similarity_b)), str(self.overlap_tokens)]


def similarity_report(uploads: dict[str, Path], out: Path) -> tuple[list[SimilarPair], dict[str, str]]:
    """Write ``out/similarity.csv`` and ``out/similarity.html``; (pairs most similar first, id → why skipped)."""
    try:
        from copydetect import CopyDetector
    except ImportError:
        raise SimilarityError("the similarity report needs copydetect: pip install -e '.[staff]' "
                              "(or pip install copydetect)") from None
    make_private_folder(out)
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as work:
        texts, skipped = _joined_sources(uploads, Path(work))
        detector = CopyDetector(extensions=["py"], noise_t=NOISE_THRESHOLD, guarantee_t=GUARANTEE_THRESHOLD,
                                display_t=HTML_DISPLAY_THRESHOLD, autoopen=False, silent=True,
                                out_file=str(out / HTML_FILE), force_language="python")
        for key in sorted(texts):
            detector.add_file(str(texts[key]))
        for path in BOILERPLATE:
            detector.add_file(str(path), type="boilerplate")
        pairs = _pairs(detector, texts) if len(texts) > 1 else []
        _write_csv(out / CSV_FILE, pairs)
        if pairs:
            detector.generate_html_report()
    return pairs, skipped


def _joined_sources(uploads: dict[str, Path], work: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """id → one file with the normalised two files; id → why it could not be normalised."""
    texts, skipped = {}, {}
    (work / "joined").mkdir()
    for key, upload in sorted(uploads.items()):
        scratch = Path(tempfile.mkdtemp(dir=work))
        try:
            normalized = normalize_submission(upload, scratch)
        except (SubmissionFormatError, OSError) as error:
            skipped[key] = str(error)
            continue
        joined = work / "joined" / f"{key}.py"
        joined.write_text("\n\n".join((normalized.root / name).read_text(encoding="utf-8", errors="replace")
                                      for name in SUBMISSION_FILES), encoding="utf-8")
        texts[key] = joined
        shutil.rmtree(scratch, ignore_errors=True)
    return texts, skipped


def _pairs(detector, texts: dict[str, Path]) -> list[SimilarPair]:
    detector.run()
    index = {path: position for position, path in enumerate(detector.test_files)}
    keys = sorted(texts)
    pairs = []
    for first, a in enumerate(keys):
        for b in keys[first + 1:]:
            i, j = index[str(texts[a])], index[str(texts[b])]
            similarity_a, similarity_b = (max(0.0, float(value)) for value in detector.similarity_matrix[i, j])
            overlap = max(0, int(detector.token_overlap_matrix[i, j]))
            pairs.append(SimilarPair(a, b, round(similarity_a, SIMILARITY_DECIMALS), round(similarity_b, SIMILARITY_DECIMALS),
                                     overlap))
    return sorted(pairs, key=lambda pair: (-pair.score, pair.a, pair.b))


def _write_csv(path: Path, pairs: list[SimilarPair]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(pair.row() for pair in pairs)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    path.chmod(0o600)  # about students: staff only


def add_similarity_parser(commands: argparse._SubParsersAction) -> None:
    """The ``similarity`` subcommand of ``python -m autograder``."""
    parser = commands.add_parser("similarity", help="similarity report of a class (copydetect)")
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                        help="the batch's input: a folder of submissions, or Gradescope's export (.zip or folder)")
    parser.add_argument("--out", type=Path, required=True, help="writes similarity.csv and similarity.html there")


def run_similarity(submissions_source: Path, out: Path) -> int:
    """The report for a batch input (a folder or Gradescope's export); exit status 0, or 2 with a message."""
    from autograder.batch.class_batch import class_submissions
    from autograder.batch.submissions import BatchInputError
    from autograder.batch.gradescope_export import ExportError

    try:
        make_private_folder(out)
        submissions = class_submissions(Path(submissions_source), out)
    except (BatchInputError, ExportError, OSError) as error:
        print(f"similarity: {error}", file=sys.stderr)
        return EXIT_FAILED
    return report({item.id: item.path for item in submissions}, out)


def report(uploads: dict[str, Path], out: Path) -> int:
    """Write the report and say what it found; exit status 0, or 2 with a message."""
    try:
        pairs, skipped = similarity_report(uploads, out)
    except (SimilarityError, OSError) as error:
        print(f"similarity: {error}", file=sys.stderr)
        return EXIT_FAILED
    for key, reason in skipped.items():
        print(f"similarity: left out {key}: {reason}", file=sys.stderr)
    top = f"; most similar: {pairs[0].a} and {pairs[0].b} ({pairs[0].score:.2f})" if pairs else ""
    print(f"similarity: {len(pairs)} pairs of {len(uploads) - len(skipped)} submissions{top}; "
          f"{out / CSV_FILE}" + (f", {out / HTML_FILE}" if pairs else ""))
    return 0
