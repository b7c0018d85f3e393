"""The pipeline end to end: drift check, release archive and leak check.

Doctored inputs are edited in a copy of the repository's release files, never
in the checkout itself.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data_scripts.release import layout, public_checks
from data_scripts.release.archive import build_archive, read_archive
from data_scripts.release.leaks import LeakError, assert_no_leaks, find_leaks, is_trivial, solution_lines
from data_scripts.release.pipeline import STEPS, drifted_files, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = [f"reference/{m}" for m in layout.MODULES]
GENERATED = [f"student/{m}" for m in layout.MODULES] + ["notebooks/two_stage_detector.ipynb",
                                                       public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA]
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
    paths = REFERENCES + GENERATED + [layout.NOTEBOOK_TEMPLATE, *layout.SHIPPED_FILES, public_checks.TEMPLATE,
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
        "read the notebook template",
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
    done = run_cli("--root", str(repo_copy), "--out", str(tmp_path / "out"))
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
    for module in layout.MODULES:
        assert members[f"two_stage_detector/{module}"] == (ROOT / "student" / module).read_bytes()
    for path in (public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA):
        assert members[f"two_stage_detector/{Path(path).name}"] == (ROOT / path).read_bytes()
    for path in layout.SHIPPED_FILES:
        assert members[f"two_stage_detector/{Path(path).name}"] == (ROOT / path).read_bytes()


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
    template = repo_copy / layout.NOTEBOOK_TEMPLATE
    doctor_one_line(template, "print(\"Relative error:\", rel_error(expected_iou, result_iou))",
                    "inter = wh[..., 0] * wh[..., 1]  # [M,N]\nprint(\"Relative error:\", rel_error(expected_iou, result_iou))")
    done = run_cli("--check", "--root", str(repo_copy))
    assert done.returncode == 2
    assert "solution line(s) in the student release" in done.stderr
    assert "two_stage_detector/two_stage_detector.ipynb:cell" in done.stderr
    assert "'inter = wh[..., 0] * wh[..., 1]  # [M,N]'" in done.stderr
