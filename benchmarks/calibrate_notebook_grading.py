"""Calibrate the notebook stage: the grading profile over seeds, for the reference and broken variants.

Every run is the real notebook stage: a sandbox on the variant's two files,
the release notebook with those definitions substituted, the grading
profile's parameters and data, and the grader's two checks. Only the seed
changes: the kernel's ``detection_helpers.reset_seed(n)`` seeds ``n + SEED``,
so seed 0 is exactly the graded run, and other seeds stand for the other
random streams (initialisation, sampling, batch order) that a correct
implementation written differently would draw.

One row per (variant, seed) is appended to the CSV table as soon as the run
ends, so an interrupted calibration keeps what it measured; a second
invocation skips the rows already there (``--again`` re-runs them).
``--summary`` prints the per-variant table of ``docs/calibration.md``.

Usage (one run is about 3 CPU minutes; the default plan, ``DEFAULT_PLAN``, is
30 runs, about 1.5 CPU hours: the reference on seeds 0-9, each broken variant
on 0-2, the training-invisible variants on 0)::

    python -m benchmarks.calibrate_notebook_grading --jobs 2     # the documented calibration
    python -m benchmarks.calibrate_notebook_grading --summary    # its table (docs/calibration.md)
    python -m benchmarks.calibrate_notebook_grading --variants reference --seeds 0-19 --set iterations=600
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from autograder.course.course_files import kernel_course_files  # noqa: E402
from autograder.errors import SubmissionError  # noqa: E402
from autograder.notebook.grading_profile import GRADING_PROFILE, PROFILES, GradingProfile  # noqa: E402
from autograder.notebook.grading_data import validation_seed  # noqa: E402
from autograder.notebook.checks import (  # noqa: E402
    CheckFailed,
    check_loss_decreases,
    check_map,
    class_matched_map,
    loss_summary,
    map_summary,
)
from autograder.notebook.machine_speed import measure_machine_speed  # noqa: E402
from autograder.notebook.stage import run_notebook_stage  # noqa: E402
from autograder.sandbox.client import Sandbox  # noqa: E402
from autograder.intake.submission import NormalizedSubmission  # noqa: E402
from synthetic_voc.generator import FORMAT_VERSION as DATASET_FORMAT_VERSION  # noqa: E402
from tests.grading_corpus.plausible_bugs import BUGS_BY_NAME, Bug, apply_edits, reference_sources  # noqa: E402

DEFAULT_TABLE = REPOSITORY / "benchmarks" / "results" / "notebook_grading_calibration.csv"
# Next to the table: profile key -> the settings that shape training, so that --history can say
# what each earlier profile version was.
PROFILES_SUFFIX = ".profiles.json"
COLUMNS = ("profile", "variant", "seed", "status", "map", "untrained_map", "matched_map", "loss_untrained",
           "loss_trained", "loss_ratio", "loss_check", "map_check", "cpu_s", "wall_s", "graders_map",
           "graders_matched_map")
REFERENCE = "reference"
# The wall-clock backstop is for a dedicated CPU; calibration shares one, so it is relaxed (it shapes nothing).
DEFAULT_WALL_LIMIT_SCALE = 10.0
# Profile fields that do not change what the notebook computes.
UNSHAPING_FIELDS = ("name", "cell_cpu_limit_s", "total_cpu_limit_s", "wall_limit_s", "max_loss_ratio", "min_map",
                    "max_untrained_map")
SEED_HOOK = """

# Calibration only (benchmarks/calibrate_notebook_grading.py): every
# reset_seed(n) of the notebook seeds n + {offset}.
_calibration_reset_seed = reset_seed


def reset_seed(number: int):
    _calibration_reset_seed(number + {offset})
"""


@dataclass(frozen=True)
class Variant:
    """The reference (``bug`` None) or one bug of the grading corpus (tests/grading_corpus)."""

    name: str
    # What the calibration must show: a broken variant fails a check on every seed; the
    # reference and the bugs invisible to training (left to the unit tests) pass both.
    should_fail: bool = True

    @property
    def bug(self) -> Bug | None:
        return None if self.name == REFERENCE else BUGS_BY_NAME[self.name]

    @property
    def description(self) -> str:
        return "the reference solution" if self.bug is None else self.bug.description


# The broken implementations the issue lists, then two that training cannot show by nature.
VARIANTS = (
    Variant(REFERENCE, should_fail=False),
    Variant("seed_roi_features_level_major"),
    Variant("locations_y_varies_fastest"),
    Variant("roi_align_stride_as_scale"),
    Variant("roi_align_without_scale"),
    Variant("inference_classes_not_shifted"),
    Variant("rpn_objectness_without_sampling"),
    Variant("anchors_inverted_aspect_ratio", should_fail=False),
    Variant("deltas_dw_dh_swapped", should_fail=False),
)
VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}


def variant_sources(variant: Variant) -> dict[str, str]:
    sources = reference_sources()
    return sources if variant.bug is None else apply_edits(sources, variant.bug.edits)


def seeded_course_files(seed: int) -> dict[str, str]:
    files = kernel_course_files()
    if seed:
        files["detection_helpers.py"] += SEED_HOOK.format(offset=seed)
    return files


def run_one(profile: GradingProfile, variant: Variant, seed: int) -> dict:
    """One graded notebook run of ``variant`` with ``seed``; the table's row."""
    row = {"profile": profile_key(profile), "variant": variant.name, "seed": seed}
    started, cpu_before = time.monotonic(), _children_cpu_s()
    with tempfile.TemporaryDirectory(prefix="calibration-") as folder:
        for name, source in variant_sources(variant).items():
            Path(folder, name).write_text(source)
        submission = NormalizedSubmission(Path(folder), f"variant {variant.name}")
        sandbox = Sandbox(folder, protected_paths=[REPOSITORY / "autograder", REPOSITORY / "reference"])
        try:
            speed = measure_machine_speed(sandbox)  # as the graded stage does: limits in calibration-machine units
            run = run_notebook_stage(sandbox, submission, profile, validation_seed(seed),
                                     course_files=seeded_course_files(seed), time_factor=speed.factor,
                                     wall_factor=speed.wall_factor)
        except SubmissionError as error:
            run, row["status"] = None, f"stopped: {_first_line(str(error))}"
        finally:
            sandbox.close()
    row["cpu_s"] = round(_children_cpu_s() - cpu_before, 1)
    row["wall_s"] = round(time.monotonic() - started, 1)
    if run is not None:
        row.update(judge(run, profile))
    return row


def judge(run, profile: GradingProfile) -> dict:
    """The two checks' numbers and verdicts, exactly as the graded tests (test_notebook.py) reach them."""
    row = {"status": "ok" if run.failure is None else f"stopped: {_first_line(run.failure)}"}
    row["loss_check"] = row["map_check"] = "fail"
    try:
        summary = loss_summary(run)
    except CheckFailed:
        summary = None
    if summary is not None:
        row.update(loss_untrained=f"{summary.untrained:.4f}", loss_trained=f"{summary.trained:.4f}",
                   loss_ratio=f"{summary.ratio:.4f}", loss_check=_verdict(check_loss_decreases, run, profile))
    try:
        maps = map_summary(run)
    except CheckFailed:
        return row
    row.update(map=f"{maps.trained.map:.4f}", untrained_map=f"{maps.untrained.map:.4f}",
               matched_map=f"{class_matched_map(run.data.ground_truth, run.trained.detections):.4f}",
               graders_map=f"{maps.graders.map:.4f}",
               graders_matched_map=f"{class_matched_map(run.data.ground_truth, run.graders.detections):.4f}",
               map_check=_verdict(check_map, maps, profile))
    return row


def _verdict(check, value, profile: GradingProfile) -> str:
    try:
        check(value, profile)
    except CheckFailed:
        return "fail"
    return "pass"


def profile_key(profile: GradingProfile) -> str:
    """The profile's name and a digest of what shapes training (not the thresholds or time limits)."""
    shaping = shaping_settings(profile)
    return f"{profile.name}-{hashlib.sha1(repr(sorted(shaping.items())).encode()).hexdigest()[:8]}"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def shaping_settings(profile: GradingProfile) -> dict:
    """What shapes training and its evaluation: the profile's fields and the dataset generator's version."""
    settings = {k: v for k, v in dataclasses.asdict(profile).items() if k not in UNSHAPING_FIELDS}
    return {**settings, "dataset_format": DATASET_FORMAT_VERSION}


# ------------------------------------------------------------------------------ table
def profiles_path(table: Path) -> Path:
    return table.with_name(table.stem + PROFILES_SUFFIX)


def read_profiles(table: Path) -> dict[str, dict]:
    path = profiles_path(table)
    return json.loads(path.read_text()) if path.is_file() else {}


def record_profile(table: Path, profile: GradingProfile) -> None:
    profiles = read_profiles(table)
    profiles[profile_key(profile)] = shaping_settings(profile)
    profiles_path(table).parent.mkdir(parents=True, exist_ok=True)
    profiles_path(table).write_text(json.dumps(profiles, indent=1, sort_keys=True) + "\n")


def settings_line(settings: dict | None, current: GradingProfile) -> str:
    """How a profile version differs from ``current`` (in what shapes training)."""
    if settings is None:
        return "Settings not recorded."
    changes = [f"{field}={value!r}" for field, value in sorted(settings.items())
               if shaping_settings(current).get(field, "(absent)") != value]
    changes += [f"{field}=(absent)" for field in sorted(shaping_settings(current)) if field not in settings]
    return f"Differs from the current profile in: {', '.join(changes)}." if changes else "The current profile."


def read_table(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    if not new and _header(path) != list(COLUMNS):  # a table from before a column was added: widen it
        rows = read_table(path)
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows({column: old.get(column, "") for column in COLUMNS} for old in rows)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({column: row.get(column, "") for column in COLUMNS})


def _header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle), [])


def summary_markdown(rows: list[dict], profile: GradingProfile, key: str | None = None) -> str:
    """Per variant: seeds run, mAP and loss-ratio ranges, and how many runs pass each check
    with the profile's current thresholds (recomputed from the numbers). ``key``: the rows
    of another profile version (default: this profile's)."""
    key = key or profile_key(profile)
    lines = [
        f"Profile `{key}`; checks: loss ratio < {profile.max_loss_ratio:g}, mAP >= {profile.min_map:g} "
        f"and untrained mAP < {profile.max_untrained_map:g}.",
        "",
        "| variant | must fail a check | runs (seeds) | mAP min / median / max | untrained mAP max "
        "| loss ratio min / median / max | loss check passes | mAP check passes | runs failing a check "
        "| CPU s per run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant.name and r["profile"] == key]
        if not mine:
            continue
        seeds = ", ".join(sorted({r["seed"] for r in mine}, key=int))
        maps = [float(r["map"]) for r in mine if r["map"]]
        ratios = [float(r["loss_ratio"]) for r in mine if r["loss_ratio"]]  # as each table's version defined it
        # The loss counts for a detector that tells the classes apart (notebook_checks); older tables lack the column.
        # Rows from before the grader's view (graders_view.py) have no graders_* columns: that view
        # equals the submission's own for the reference, and can only lower the others.
        loss_ok = [bool(r["loss_ratio"]) and float(r["loss_ratio"]) < profile.max_loss_ratio
                   and float(r.get("matched_map") or profile.min_map) >= profile.min_map
                   and float(r.get("graders_matched_map") or profile.min_map) >= profile.min_map for r in mine]
        # Tables from before the untrained detector was judged have no untrained_map: nothing to hold against.
        map_ok = [bool(r["map"]) and float(r["map"]) >= profile.min_map
                  and float(r.get("graders_map") or profile.min_map) >= profile.min_map
                  and float(r.get("untrained_map") or 0.0) < profile.max_untrained_map for r in mine]
        untrained = max((float(r["untrained_map"]) for r in mine if r.get("untrained_map")), default=None)
        failing = sum(not (a and b) for a, b in zip(loss_ok, map_ok))
        cpu = statistics.median(float(r["cpu_s"]) for r in mine)
        expected = "yes" if variant.should_fail else "no"
        untrained_text = "-" if untrained is None else f"{untrained:.3f}"
        lines.append(f"| {variant.name} | {expected} | {len(mine)} ({seeds}) | {_spread(maps)} | {untrained_text} "
                     f"| {_spread(ratios)} "
                     f"| {sum(loss_ok)}/{len(mine)} | {sum(map_ok)}/{len(mine)} | {failing}/{len(mine)} | {cpu:.0f} |")
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def profile_override(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` to (field, value), the value parsed as the field's type (``None`` allowed)."""
    field, _, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(GradingProfile)}
    if field not in fields or field == "name":
        raise argparse.ArgumentTypeError(f"{field!r} is not a profile field; known: {', '.join(fields)}")
    if value == "None":
        return field, None
    kind = fields[field].type.split("|")[0].strip()  # "float | None" -> "float"
    return field, {"int": int, "float": float}.get(kind, str)(value)


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def plan(seeds_by_kind: dict[str, str]) -> list[tuple[int, str]]:
    """(seed, variant) runs, seed-major (every variant gets its first seeds early)."""
    kind = {variant.name: REFERENCE if variant.name == REFERENCE else
            ("broken" if variant.should_fail else "invisible") for variant in VARIANTS}
    seeds = {name: parse_seeds(seeds_by_kind[kind[name]]) for name in VARIANTS_BY_NAME}
    return [(seed, name) for seed in sorted({s for values in seeds.values() for s in values})
            for name in VARIANTS_BY_NAME if seed in seeds[name]]


# The documented calibration (docs/calibration.md): the reference on ten seeds, each broken
# variant on three, the training-invisible ones on one (they only illustrate).
DEFAULT_PLAN = plan({REFERENCE: "0-9", "broken": "0-2", "invisible": "0"})


def _run_shards(argv: list[str], jobs: int) -> int:
    """Run this command as ``jobs`` processes, each with every ``jobs``-th pending run."""
    base = [sys.executable, "-m", "benchmarks.calibrate_notebook_grading", *argv, "--jobs", "1"]
    shards = [subprocess.Popen([*base, "--shard", f"{index}/{jobs}"]) for index in range(jobs)]
    failed = [index for index, shard in enumerate(shards) if shard.wait() != 0]
    if failed:
        print(f"calibration shard(s) {failed} failed; rerun the same command to finish (done runs are kept)")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibrate_notebook_grading",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated, or all: {', '.join(VARIANTS_BY_NAME)} (default: the plan below)")
    parser.add_argument("--seeds", default=None, help="e.g. 0-9 or 0,3,5-7 (default: the plan below)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one process each (default 1)")
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # K/N: set by --jobs
    parser.add_argument("--profile", default=GRADING_PROFILE.name, choices=sorted(PROFILES))
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help=f"CSV table (default {DEFAULT_TABLE})")
    parser.add_argument("--again", action="store_true", help="re-run (variant, seed) pairs already in the table")
    parser.add_argument("--wall-limit-scale", type=float, default=DEFAULT_WALL_LIMIT_SCALE,
                        help="multiply the profile's wall-clock backstop (a shared machine is slower than a "
                             f"grader's dedicated CPU; CPU-time limits stay; default {DEFAULT_WALL_LIMIT_SCALE:g})")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", type=profile_override,
                        help="try a changed profile (e.g. --set learning_rate=0.005); its rows get their own key")
    parser.add_argument("--summary", action="store_true", help="print the per-variant summary of the table and exit")
    parser.add_argument("--history", action="store_true",
                        help="with --summary: one summary per profile version in the table, oldest first")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    profile = dataclasses.replace(profile, **dict(args.set))
    profile = dataclasses.replace(profile, wall_limit_s=profile.wall_limit_s * args.wall_limit_scale)
    if args.summary:
        rows = read_table(args.table)
        if not args.history:
            print(summary_markdown(rows, profile))
            return 0
        profiles = read_profiles(args.table)
        print("\n\n".join(f"{summary_markdown(rows, profile, key)}\n\n{settings_line(profiles.get(key), profile)}"
                           for key in dict.fromkeys(row["profile"] for row in rows)))
        return 0
    if args.variants is None and args.seeds is None:
        runs = DEFAULT_PLAN
    else:
        names = list(VARIANTS_BY_NAME) if args.variants in (None, "all") else args.variants.split(",")
        unknown = [name for name in names if name not in VARIANTS_BY_NAME]
        if unknown:
            parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS_BY_NAME)}")
        runs = [(seed, name) for seed in parse_seeds(args.seeds or "0-9") for name in names]
    key = profile_key(profile)
    if not args.shard:  # once, before any shard runs (shards would race on the file)
        record_profile(args.table, profile)
    if args.jobs > 1:
        status = _run_shards(argv if argv is not None else sys.argv[1:], args.jobs)
        print(summary_markdown(read_table(args.table), profile))
        return status
    done = {(r["profile"], r["variant"], r["seed"]) for r in read_table(args.table)}
    pending = [(seed, name) for seed, name in runs if args.again or (key, name, str(seed)) not in done]
    if args.shard:
        index, count = (int(part) for part in args.shard.split("/"))
        pending = pending[index::count]
    for seed, name in pending:
        row = run_one(profile, VARIANTS_BY_NAME[name], seed)
        append_row(args.table, row)
        print(", ".join(f"{column}={row.get(column, '')}" for column in COLUMNS), flush=True)
    if args.shard:
        return 0
    print(summary_markdown(read_table(args.table), profile))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
