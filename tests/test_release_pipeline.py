"""The pipeline end to end: drift check, release archive and leak check.

Doctored inputs are edited in a copy of the repository's release files, never
in the checkout itself.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.units.points_table import points_table_markdown
from data_scripts.release import public_checks, release_paths
from data_scripts.release.archive import build_archive, read_archive
from data_scripts.release.generated_text import expand_placeholders, fill_blocks, strip_block_markers
from data_scripts.release.leaks import LeakError, assert_no_leaks, find_leaks, is_trivial, solution_lines
from data_scripts.release.pipeline import STEPS, drifted_files, run_pipeline, unshippable
from data_scripts.release.release_errors import SourceError
from data_scripts.release.settings import ReleaseSettings, find_unshippable
from data_scripts.release.stubs import header_line

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = [f"reference/{m}" for m in release_paths.MODULES]
GENERATED = [f"student/{m}" for m in release_paths.MODULES] + ["notebooks/two_stage_detector.ipynb",
                                                       public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA]
GENERATED += list(release_paths.GENERATED_PASSAGE_FILES)  # README.md, student/README.md: their generated blocks
ARCHIVE_MEMBERS = {
    "two_stage_detector/two_stage_detector.ipynb",
    "two_stage_detector/common.py",
    "two_stage_detector/two_stage_detector.py",
    "two_stage_detector/detection_helpers.py",
    "two_stage_detector/voc_map.py",
    "two_stage_detector/voc_download.py",
    "two_stage_detector/README.md",
    "two_stage_detector/checks.py",
    "two_stage_detector/checks_data.json",
}


@pytest.fixture(scope="module")
def release():
    return run_pipeline(ROOT)


@pytest.fixture
def repo_copy(tmp_path):
    """The files the pipeline reads and writes, copied into a scratch root."""
    paths = REFERENCES + GENERATED + [release_paths.NOTEBOOK_TEMPLATE, release_paths.RELEASE_SETTINGS,
                                      *release_paths.SHIPPED_FILES, public_checks.TEMPLATE,
                                      *public_checks.VENDORED_MODULES]
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, tmp_path / path)
    return tmp_path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "data_scripts.release", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def doctor_one_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_steps_run_in_the_documented_order():
    assert [name for name, _ in STEPS] == [
        "read the marked reference",
        "generate the student stubs",
        "generate the public checks",
        "read the release settings",
        "read the notebook template",
        "refill the generated passages",
        "render the student notebook",
        "render the solution notebook",
        "package the student release",
        "check the release for solution lines",
    ]


def test_committed_files_are_what_the_pipeline_generates(release):
    assert sorted(release.committed) == sorted(GENERATED)
    assert drifted_files(release) == []


def test_check_command_passes_on_the_checkout():
    done = run_cli("--check")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


@pytest.mark.parametrize(
    "path, old, new, drifted",
    [
        ("student/common.py", "    keep = None\n", "    keep = []\n", ["student/common.py"]),
        (
            "student/two_stage_detector.py",
            "        self.num_anchors = num_anchors\n",
            "        self.num_anchors = 3\n",
            ["student/two_stage_detector.py"],
        ),
        ("notebooks/two_stage_detector.ipynb", "Getting Started", "Getting started", ["notebooks/two_stage_detector.ipynb"]),
        (
            "reference/common.py",
            "    keep = None\n",
            "    keep = []\n",
            ["student/common.py", "notebooks/two_stage_detector.ipynb"],
        ),
    ],
    ids=["stub", "other-stub", "notebook", "reference-edited-without-regenerating"],
)
def test_a_doctored_copy_fails_the_check_naming_file_and_command(repo_copy, path, old, new, drifted):
    doctor_one_line(repo_copy / path, old, new)
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 1
    for stale in drifted:
        assert f"release: {stale} differs from what the release pipeline generates from " in done.stderr
    assert done.stderr.count("regenerate it with `python -m data_scripts.release`") == len(drifted)
    assert drifted_files(run_pipeline(repo_copy)) == drifted


def test_regenerating_repairs_a_doctored_copy(repo_copy, tmp_path):
    doctor_one_line(repo_copy / "student/common.py", "    keep = None\n", "    keep = []\n")
    done = run_cli("--root", str(repo_copy), "--out", str(tmp_path / "out"), "--draft")
    assert done.returncode == 0, done.stderr
    assert (repo_copy / "student/common.py").read_bytes() == (ROOT / "student/common.py").read_bytes()
    assert (tmp_path / "out" / "student_release.zip").is_file()
    assert (tmp_path / "out" / "solution" / "two_stage_detector.solution.ipynb").is_file()
    assert run_cli("--check", "--root", str(repo_copy)).returncode == 0


def test_a_bad_marker_fails_the_build_with_file_and_line(repo_copy):
    reference = repo_copy / "reference/common.py"
    doctor_one_line(reference, "        # END SOLUTION\n", "")  # the first region never closes
    begins = [n for n, line in enumerate(reference.read_text().splitlines(), 1) if line.strip() == "# BEGIN SOLUTION"]
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 2
    assert done.stderr == (
        f"release: error: reference/common.py:{begins[1]}: nested '# BEGIN SOLUTION': "
        f"the region opened at line {begins[0]} is not closed\n"
    )


def test_archive_holds_exactly_the_student_files(release):
    members = read_archive(release.build["student_release.zip"])
    assert set(members) == ARCHIVE_MEMBERS
    assert members["two_stage_detector/two_stage_detector.ipynb"] == (ROOT / GENERATED[2]).read_bytes()
    for module in release_paths.MODULES:
        assert members[f"two_stage_detector/{module}"] == (ROOT / "student" / module).read_bytes()
    for path in (public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA):
        assert members[f"two_stage_detector/{Path(path).name}"] == (ROOT / path).read_bytes()
    for path in release_paths.SHIPPED_FILES:
        # Shipped as written, except that generated blocks lose their marker lines.
        shipped = strip_block_markers((ROOT / path).read_text(encoding="utf-8")).encode("utf-8")
        assert members[f"two_stage_detector/{Path(path).name}"] == shipped


def test_archive_is_reproducible(release):
    assert run_pipeline(ROOT).build["student_release.zip"] == release.build["student_release.zip"]


def test_solution_notebook_is_a_build_output_only(release):
    assert "solution/two_stage_detector.solution.ipynb" in release.build
    assert not any("solution" in path for path in release.committed)
    assert not list((ROOT / "notebooks").glob("*solution*"))
    solution = json.loads(release.build["solution/two_stage_detector.solution.ipynb"])
    sources = "".join("".join(cell["source"]) for cell in solution["cells"])
    assert "START YOUR CODE" not in sources and "NotImplementedError(\"" not in sources


def test_solution_lines_cover_every_region_and_skip_trivial_lines():
    references = {path: (ROOT / path).read_text(encoding="utf-8") for path in REFERENCES}
    checked = solution_lines(references)
    assert "keep = torch.tensor(kept, dtype=torch.long, device=boxes.device)" in checked
    assert "loss_cls = F.cross_entropy(pred_cls_logits, gt_classes)" in checked
    assert "# Top-down pathway: start at the coarsest level, upsample, add laterals." in checked
    # Provided code (outside every region) is never a leak, nor are trivial lines.
    assert "keep = None" not in checked and "return keep" not in checked
    for trivial in [")", "],", ")  # [N,4]", "pass", "else:", "dim=1,", "aligned=True,", ""]:
        assert is_trivial(trivial) and trivial not in checked
    assert not is_trivial("# a comment") and not is_trivial("x = 1")
    origins = {origin.split(":")[0] for origin in checked.values()}
    assert origins == set(REFERENCES)


def test_release_archive_has_no_solution_line(release):
    references = {path: (ROOT / path).read_text(encoding="utf-8") for path in REFERENCES}
    assert find_leaks(read_archive(release.build["student_release.zip"]), solution_lines(references)) == []


@pytest.mark.parametrize(
    "member, leaked",
    [
        ("two_stage_detector/common.py", "        x1, y1, x2, y2 = boxes.unbind(dim=1)\n"),
        ("two_stage_detector/README.md", "iou = inter / (area1[:, None] + area2[None, :] - inter)\n"),
    ],
)
def test_a_doctored_release_with_a_solution_line_is_caught(release, member, leaked):
    references = {path: (ROOT / path).read_text(encoding="utf-8") for path in REFERENCES}
    members = {name[len("two_stage_detector/") :]: data for name, data in read_archive(release.build["student_release.zip"]).items()}
    name = member[len("two_stage_detector/") :]
    members[name] = members[name] + leaked.encode("utf-8")
    with pytest.raises(LeakError) as raised:
        assert_no_leaks(read_archive(build_archive(members, "two_stage_detector")), references)
    assert len(raised.value.leaks) == 1
    leak = raised.value.leaks[0]
    assert leak.member == member and leak.text == leaked.strip()
    assert leak.origin.startswith("reference/")
    assert f"{member}:" in str(raised.value)


def test_a_solution_line_in_a_notebook_cell_is_caught(release):
    references = {path: (ROOT / path).read_text(encoding="utf-8") for path in REFERENCES}
    notebook = json.loads(release.committed["notebooks/two_stage_detector.ipynb"])
    notebook["cells"][-1]["source"] = ["text\n", "    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # [M,N,2]"]
    members = {"two_stage_detector/two_stage_detector.ipynb": json.dumps(notebook).encode("utf-8")}
    leaks = find_leaks(members, solution_lines(references))
    assert [(leak.member, leak.where) for leak in leaks] == [
        ("two_stage_detector/two_stage_detector.ipynb", f"cell {len(notebook['cells'])}, line 2")
    ]


def test_a_solution_line_in_the_template_fails_the_build(repo_copy):
    template = repo_copy / release_paths.NOTEBOOK_TEMPLATE
    doctor_one_line(template, "print(\"Relative error:\", rel_error(expected_iou, result_iou))",
                    "inter = wh[..., 0] * wh[..., 1]  # [M,N]\nprint(\"Relative error:\", rel_error(expected_iou, result_iou))")
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 2
    assert "solution line(s) in the student release" in done.stderr
    assert "two_stage_detector/two_stage_detector.ipynb:cell" in done.stderr
    assert "'inter = wh[..., 0] * wh[..., 1]  # [M,N]'" in done.stderr


# --- Placeholders and staff-only references ---------------------------------------------------------


def test_the_archive_is_not_built_while_a_placeholder_is_left(repo_copy, tmp_path):
    done = run_cli("--root", str(repo_copy), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "release: error: two_stage_detector/two_stage_detector.ipynb:" in done.stderr
    assert "placeholder 'COURSE-ORG': set it in notebooks/release_settings.json" in done.stderr
    assert "--draft builds it anyway" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_configured_release_builds_with_its_colab_link(repo_copy, tmp_path):
    settings = {"colab_repository": "cs-course/detector-2027", "colab_branch": "spring"}
    (repo_copy / release_paths.RELEASE_SETTINGS).write_text(json.dumps(settings))
    done = run_cli("--root", str(repo_copy), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    notebook = read_archive((tmp_path / "out" / "student_release.zip").read_bytes())[
        "two_stage_detector/two_stage_detector.ipynb"].decode()
    link = "https://colab.research.google.com/github/cs-course/detector-2027/blob/spring/notebooks/two_stage_detector.ipynb"
    assert link in notebook and "COURSE-ORG" not in notebook
    # The committed notebook changed with the setting: the drift check of the configured copy passes.
    assert run_cli("--check", "--root", str(repo_copy)).returncode == 0


def test_bad_release_settings_stop_the_build(repo_copy):
    (repo_copy / release_paths.RELEASE_SETTINGS).write_text(json.dumps({"colab_repository": ""}))
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 2
    assert "notebooks/release_settings.json: expected an object with exactly the keys" in done.stderr


def test_staff_only_commands_in_a_shipped_file_are_caught():
    members = {"README.md": "x\nrun `python -m data_scripts.synthetic_dataset --out d`\n",
               "common.py": header_line("reference/common.py", release_paths.REGENERATE_COMMAND)}
    allowed = {header_line("reference/common.py", release_paths.REGENERATE_COMMAND).strip()}
    assert find_unshippable(members, allowed) == [("README.md", 2, "'data_scripts' is not in the student release")]


def test_the_release_names_only_what_students_have(release):
    assert unshippable(release) == [
        "two_stage_detector/two_stage_detector.ipynb:10: placeholder 'COURSE-ORG': set it in "
        "notebooks/release_settings.json"
    ]


# --- Generated passages -------------------------------------------------------------------------------


def test_a_stale_generated_block_fails_the_check(repo_copy):
    doctor_one_line(repo_copy / "student/README.md", "| `nms` | 6 | 10 |", "| `nms` | 6 | 12 |")
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 1
    assert "release: student/README.md differs from what the release pipeline generates from student/README.md + " \
           "autograder/ (points markers, grading profile)" in done.stderr


def test_blocks_are_refilled_and_bad_markers_named():
    settings = ReleaseSettings("o/n", "main")
    begin, end = "<!-- BEGIN generated: points-table (python -m data_scripts.release) -->", "<!-- END generated: points-table -->"
    filled = fill_blocks(f"a\n{begin}\nstale\n{end}\nb", "R.md", settings)
    assert filled == f"a\n{begin}\n{points_table_markdown()}\n{end}\nb"
    assert strip_block_markers(filled) == f"a\n{points_table_markdown()}\nb"
    for text, message in [
        (f"{begin}\nx", "R.md:1: generated block 'points-table' is never closed"),
        (f"x\n{end}", "R.md:2: generated-block marker"),
        ("<!-- BEGIN generated: nonsense (python -m data_scripts.release) -->", "R.md:1: unknown generated passage 'nonsense'"),
        ("<!-- BEGIN generated: points-table -->", "R.md:1: generated-block marker"),
    ]:
        with pytest.raises(SourceError, match=re.escape(message)):
            fill_blocks(text, "R.md", settings)
    assert expand_placeholders("x\n<!-- generated: colab-badge -->", "T.md", 5, settings).endswith(
        "(https://colab.research.google.com/github/o/n/blob/main/notebooks/two_stage_detector.ipynb)")
    with pytest.raises(SourceError, match=re.escape("T.md:6: malformed generated-passage line")):
        expand_placeholders("x\n<!-- generated:grading -->", "T.md", 5, settings)


LEFTOVERS = re.compile(r"FCOS|fcos_|\bA3\b|first part of (the|our) assignment|K80|grading purposes")


def test_no_leftovers_of_another_assignment(release):
    texts = {name: data.decode() for name, data in read_archive(release.build["student_release.zip"]).items()
             if not name.endswith("checks_data.json")}  # base64 tensors: "FCOS" turns up by chance
    texts["README.md"] = (ROOT / "README.md").read_text()
    found = [(name, n, line) for name, text in texts.items()
             for n, line in enumerate(text.splitlines(), 1) if LEFTOVERS.search(line)]
    assert found == []
