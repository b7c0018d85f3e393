"""benchmarks/calibrate_notebook_grading.py: its variants still apply, its overrides and summary are right.

(The calibration itself takes CPU hours and is run by hand; see docs/calibration.md.)"""
import argparse
import dataclasses

import pytest

from autograder.notebook.grading_profile import GRADING_PROFILE
from benchmarks.calibrate_notebook_grading import (
    COLUMNS,
    DEFAULT_PLAN,
    REFERENCE,
    VARIANTS,
    append_row,
    profile_key,
    profile_override,
    read_profiles,
    read_table,
    record_profile,
    settings_line,
    summary_markdown,
    variant_sources,
)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda variant: variant.name)
def test_every_variant_edits_the_current_reference(variant):
    sources = variant_sources(variant)  # raises if an edit no longer matches exactly once
    reference = variant_sources(VARIANTS[0])
    assert (sources == reference) == (variant.name == REFERENCE)


def test_profile_override_parses_by_field_type():
    assert profile_override("learning_rate=0.005") == ("learning_rate", 0.005)
    assert profile_override("iterations=800") == ("iterations", 800)
    assert profile_override("max_grad_norm=None") == ("max_grad_norm", None)
    with pytest.raises(argparse.ArgumentTypeError, match="not a profile field"):
        profile_override("learning_rat=1")


def test_profile_key_ignores_thresholds_but_not_training():
    key = profile_key(GRADING_PROFILE)
    assert profile_key(dataclasses.replace(GRADING_PROFILE, min_map=0.9, cell_cpu_limit_s=1.0)) == key
    assert profile_key(dataclasses.replace(GRADING_PROFILE, learning_rate=0.1)) != key


def test_summary_judges_rows_with_the_current_thresholds():
    key = profile_key(GRADING_PROFILE)
    row = dict(profile=key, status="ok", loss_untrained="3", loss_trained="1", cpu_s="100", wall_s="100",
               untrained_map="0.0", loss_ratio=f"{GRADING_PROFILE.max_loss_ratio / 2}")
    good, bad = f"{GRADING_PROFILE.min_map + 0.1}", f"{GRADING_PROFILE.min_map - 0.01}"
    rows = [row | dict(variant=REFERENCE, seed="0", map=good),
            row | dict(variant=REFERENCE, seed="1", map=bad),
            row | dict(variant=REFERENCE, seed="2", map=good, untrained_map=f"{GRADING_PROFILE.max_untrained_map}"),
            row | dict(variant=REFERENCE, seed="3", map=good, matched_map=bad),  # a loss without class evidence
            # weights that do not detect in the grader's detector (graders_view.py): no mAP, no loss points
            row | dict(variant=REFERENCE, seed="4", map=good, graders_map=bad),
            row | dict(variant=REFERENCE, seed="5", map=good, graders_matched_map=bad),
            row | dict(variant="locations_y_varies_fastest", seed="0", map="", untrained_map="", loss_ratio="")]
    lines = summary_markdown(rows, GRADING_PROFILE).splitlines()
    reference_line = next(line for line in lines if line.startswith(f"| {REFERENCE} |"))
    assert "| no | 6 (0, 1, 2, 3, 4, 5) |" in reference_line and "| 4/6 | 3/6 | 5/6 |" in reference_line
    assert f"| {GRADING_PROFILE.max_untrained_map:.3f} |" in reference_line  # the worst untrained mAP
    transposed_line = next(line for line in lines if line.startswith("| locations_y_varies_fastest |"))
    assert "| yes | 1 (0) | - | - | - | 0/1 | 0/1 | 1/1 |" in transposed_line


def test_a_table_from_before_a_new_column_is_widened_not_misaligned(tmp_path):
    table = tmp_path / "calibration.csv"
    old_columns = [column for column in COLUMNS if not column.startswith("graders_")]
    table.write_text(",".join(old_columns) + "\n" + ",".join(f"old {c}" for c in old_columns) + "\n")
    append_row(table, {"variant": REFERENCE, "graders_map": "0.3"})
    old, new = read_table(table)
    assert old["map"] == "old map" and old["graders_map"] == ""
    assert new["variant"] == REFERENCE and new["graders_map"] == "0.3" and new["map"] == ""


def test_history_names_what_an_earlier_profile_changed(tmp_path):
    table = tmp_path / "calibration.csv"
    earlier = dataclasses.replace(GRADING_PROFILE, learning_rate=GRADING_PROFILE.learning_rate * 2)
    record_profile(table, earlier)
    record_profile(table, GRADING_PROFILE)
    profiles = read_profiles(table)
    assert settings_line(profiles[profile_key(GRADING_PROFILE)], GRADING_PROFILE) == "The current profile."
    assert settings_line(profiles[profile_key(earlier)], GRADING_PROFILE) == (
        f"Differs from the current profile in: learning_rate={earlier.learning_rate!r}.")
    assert settings_line(None, GRADING_PROFILE) == "Settings not recorded."


def test_default_plan_covers_what_the_issue_asks():
    runs = {}
    for seed, name in DEFAULT_PLAN:
        runs.setdefault(name, []).append(seed)
    assert runs.pop(REFERENCE) == list(range(10))
    for variant in VARIANTS:
        if variant.name in runs:
            assert runs[variant.name] == ([0, 1, 2] if variant.should_fail else [0]), variant.name
    assert set(runs) == {variant.name for variant in VARIANTS} - {REFERENCE}
    assert [seed for seed, _ in DEFAULT_PLAN] == sorted(seed for seed, _ in DEFAULT_PLAN)  # seed-major
