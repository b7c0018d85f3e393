"""Grading a class across machines: ``batch --shard K/N`` and ``merge``.

Shard ``K`` of ``N`` grades the submissions at positions ``K-1, K-1+N,
K-1+2N, ...`` of the class sorted by id (round robin: shares differ by at
most one submission, whatever the ids).  Every shard must see the same
submissions folder; each writes ``OUT_K/shard.json`` (its ``K``, ``N``,
the whole class's ids and its own), which ``merge`` checks: all ``N``
shards present once, one class, every submission graded by exactly one
shard.

``python -m autograder merge OUT_1 ... OUT_N --out DIR`` copies every
shard's ``<id>/`` folders into ``DIR`` and writes ``DIR/gradebook.csv``
with the same code as a single batch, so the gradebook is byte-identical
to one ``batch`` run of the same folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TypeVar

from autograder.results.output_files import make_private_folder, write_json_atomically
from autograder.batch.records import STAGING_DIR, read_grading
from autograder.batch.gradebook import GRADEBOOK_FILE, write_class_gradebook

MANIFEST_FILE = "shard.json"
MANIFEST_FORMAT = 1  # bump when the manifest's fields change
EXIT_MERGED = 0
EXIT_FAILED = 2

Item = TypeVar("Item")


class ShardError(ValueError):
    """Shard outputs that cannot be merged, or a malformed ``--shard``; the message says which and why."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def select(self, items: Sequence[Item]) -> list[Item]:
        """This shard's share of ``items`` (already in a deterministic order)."""
        return list(items[self.index - 1::self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` → ``Shard(2, 3)``; argparse type (its error names the expected form)."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count)) if slash else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard.index <= shard.count:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N (e.g. 2/3), got {text!r}")
    return shard


def write_manifest(out: Path, shard: Shard, class_ids: list[str], shard_ids: list[str]) -> None:
    """Record which share of which class ``out`` holds."""
    write_json_atomically(out / MANIFEST_FILE, {
        "format": MANIFEST_FORMAT, "shard": shard.index, "of": shard.count,
        "class": class_ids, "graded": shard_ids,
    })


@dataclass(frozen=True)
class ShardOutput:
    """One shard's output folder and its manifest."""

    path: Path
    shard: Shard
    class_ids: tuple[str, ...]
    ids: tuple[str, ...]


def read_manifest(out: Path) -> ShardOutput:
    path = Path(out) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
        shard = Shard(int(manifest["shard"]), int(manifest["of"]))
        class_ids = tuple(str(key) for key in manifest["class"])
        ids = tuple(str(key) for key in manifest["graded"])
    except FileNotFoundError:
        raise ShardError(f"{out}: no {MANIFEST_FILE}; is it the --out of `batch --shard K/N`?") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ShardError(f"{path}: unreadable shard manifest ({error}); run that shard again") from None
    if shard.select(class_ids) != list(ids):
        raise ShardError(f"{path}: shard {shard} does not hold its share of the class; run that shard again")
    return ShardOutput(Path(out), shard, class_ids, ids)


def check_shards(outputs: list[ShardOutput]) -> list[str]:
    """The class's ids, once every shard is present exactly once and all agree on the class."""
    first = outputs[0]
    for output in outputs[1:]:
        if output.shard.count != first.shard.count:
            raise ShardError(f"{output.path} is shard {output.shard} but {first.path} is shard {first.shard}: "
                             "all shards must come from one split")
        if output.class_ids != first.class_ids:
            missing = sorted(set(first.class_ids) ^ set(output.class_ids))
            raise ShardError(f"{output.path} and {first.path} saw different submissions folders "
                             f"(differing ids: {', '.join(missing[:10]) or 'order'}); grade every shard from "
                             "the same folder")
    by_index: dict[int, list[Path]] = {}
    for output in outputs:
        by_index.setdefault(output.shard.index, []).append(output.path)
    repeated = [f"{index}/{first.shard.count}: {', '.join(map(str, paths))}"
                for index, paths in sorted(by_index.items()) if len(paths) > 1]
    if repeated:
        raise ShardError(f"a shard given more than once: {'; '.join(repeated)}")
    missing = [f"{index}/{first.shard.count}" for index in range(1, first.shard.count + 1) if index not in by_index]
    if missing:
        raise ShardError(f"missing shard(s) {', '.join(missing)}: merge needs all {first.shard.count}")
    return list(first.class_ids)


def merge_shards(shard_dirs: list[Path], out: Path) -> tuple[list[str], list[str]]:
    """Copy every shard's submissions into ``out``; (the class's ids, ids without a committed grading)."""
    outputs = [read_manifest(path) for path in shard_dirs]
    class_ids = check_shards(outputs)
    if any(Path(output.path).resolve() == Path(out).resolve() for output in outputs):
        raise ShardError(f"--out {out} is one of the shards; merge into a new folder")
    make_private_folder(out)
    incomplete = []
    for output in outputs:
        for key in output.ids:
            source = output.path / key
            if read_grading(source) is None:
                incomplete.append(key)
            if source.is_dir():
                target = out / key
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target, ignore=shutil.ignore_patterns(STAGING_DIR))
    return class_ids, sorted(incomplete)


def add_merge_parser(commands: argparse._SubParsersAction) -> None:
    """The ``merge`` subcommand of ``python -m autograder``."""
    merge = commands.add_parser("merge", help="combine the outputs of `batch --shard K/N` into one gradebook")
    merge.add_argument("shards", type=Path, nargs="+", metavar="OUT_K", help="every shard's --out folder")
    merge.add_argument("--out", type=Path, required=True, help="merged output: <id>/ folders and gradebook.csv")


def run_merge_from_args(args: argparse.Namespace) -> int:
    try:
        class_ids, incomplete = merge_shards(args.shards, args.out)
    except (ShardError, OSError) as error:
        print(f"merge: {error}", file=sys.stderr)
        return EXIT_FAILED
    write_class_gradebook(args.out, class_ids)
    print(f"merge: {len(class_ids)} submissions from {len(args.shards)} shards; "
          f"gradebook: {args.out / GRADEBOOK_FILE}")
    if incomplete:
        print(f"merge: no committed grading for {', '.join(incomplete)} (status not-graded); run their shards "
              "again (the same command resumes), then merge again", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_MERGED
