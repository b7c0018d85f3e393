"""The students' public checks (`checks.py` + `checks_data.json` in the release).

They run from the unpacked student release, with nothing of `autograder/` or
`reference/` importable: exit 0 on the reference, 1 on the stubs and on the
corpus bugs (a representative subset here; every bug with
`GRADING_CORPUS=full`), naming the broken definition. The vendored grader
code and the golden data are checked against their sources.
"""
import ast
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autograder.units.golden_cases import golden_cases
from autograder.course.reference_solution import load_reference
from autograder.units.golden_records import load_golden
from data_scripts.release import public_checks, release_paths
from data_scripts.release.archive import read_archive
from data_scripts.release.leaks import find_leaks, solution_lines
from data_scripts.release.pipeline import run_pipeline
from tests.grading_corpus.plausible_bugs import BUGS, BUGS_BY_NAME, CALLERS, apply_edits, reference_sources

ROOT = Path(__file__).resolve().parents[1]
FULL_CORPUS = os.environ.get("GRADING_CORPUS", "") == "full"
# One bug per kind of public check: golden case, input mutation, FPN constants,
# RPN row order, RPN sampling, network structure, a case answered by the reference.
REPRESENTATIVE_BUGS = (
    "iou_boxes_swapped",
    "apply_deltas_clamps_input_in_place",
    "fpn_without_top_down_pathway",
    "rpn_objectness_anchor_major",
    "rpn_foreground_fraction_quarter",
    "rpn_stem_without_relu",
    "seed_roi_features_level_major",
)
CPU_SECONDS_LIMIT = 60  # the budget for every check on 2 cores


@pytest.fixture(scope="module")
def release():
    return run_pipeline(ROOT)


@pytest.fixture(scope="module")
def unpacked(release, tmp_path_factory):
    """The student release, unpacked: the folder students work in."""
    out = tmp_path_factory.mktemp("release")
    for name, data in read_archive(release.build[release_paths.ARCHIVE]).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return out / release_paths.ARCHIVE_FOLDER


def run_checks_cli(unpacked: Path, folder: Path, *args):
    """`python checks.py FOLDER` from the release folder, with only the release importable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-I", "checks.py", str(folder), *args], cwd=unpacked,
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def checks_module(unpacked):
    """The release's checks.py imported in this process (as students' notebooks do)."""
    spec = importlib.util.spec_from_file_location("released_checks", unpacked / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_submission(folder: Path, sources: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in sources.items():
        (folder / name).write_text(text)
    return folder


def failed_definitions(table: str) -> list:
    return [line.split()[0] for line in table.splitlines() if line.rstrip().endswith("FAILED")]


# ------------------------------------------------------------------ the CLI
def test_reference_passes_every_check_within_the_budget(unpacked):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = run_checks_cli(unpacked, ROOT / "reference")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert failed_definitions(done.stdout) == []
    total = re.search(r"^TOTAL\s+(\d+) / (\d+)$", done.stdout, re.M)
    assert total and total.group(1) == total.group(2) and int(total.group(2)) >= 15
    assert "does not guarantee full marks" in done.stdout and "hidden" in done.stdout
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < CPU_SECONDS_LIMIT


def test_stubs_fail_every_definition_with_not_implemented(unpacked, tmp_path):
    done = run_checks_cli(unpacked, unpacked, "--markdown", str(tmp_path / "summary.md"))
    assert done.returncode == 1
    assert sorted(failed_definitions(done.stdout)) == sorted(public_checks_definitions())
    assert "not implemented yet: iou: TODO not implemented yet: write it in the notebook cell that defines iou" in done.stdout
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.startswith("## Public checks\n") and "| ❌ | `iou` | 0 / 1 |" in markdown
    assert "hidden cases" in markdown


def test_markdown_is_appended(unpacked, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    done = run_checks_cli(unpacked, ROOT / "reference", "--markdown", str(summary))
    assert done.returncode == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n## Public checks\n") and "❌" not in text


def test_a_folder_without_the_two_files_is_refused(unpacked, tmp_path):
    done = run_checks_cli(unpacked, tmp_path)
    assert done.returncode == 2
    assert "has no common.py or two_stage_detector.py" in done.stderr


def public_checks_definitions() -> list:
    from autograder.submission_layout import GRADED_NAMES
    return list(GRADED_NAMES)


# ------------------------------------------------------------ corpus bugs
@pytest.mark.parametrize("bug_name", [bug.name for bug in BUGS] if FULL_CORPUS else REPRESENTATIVE_BUGS)
def test_a_corpus_bug_fails_naming_its_definition(checks_module, tmp_path, bug_name):
    bug = BUGS_BY_NAME[bug_name]
    folder = write_submission(tmp_path / bug.name, apply_edits(reference_sources(), bug.edits))
    results = checks_module.run_checks(checks_module.FolderDefinitions(str(folder)))
    failed = {result["definition"] for result in results if not result["passed"]}
    assert set(bug.breaks) <= failed, [r for r in results if not r["passed"]]
    assert failed <= set(bug.breaks) | {caller for name in bug.breaks for caller in CALLERS.get(name, ())}


# --------------------------------------------------------- in a notebook
def notebook_namespace() -> dict:
    """The reference's two files run in one namespace, as the solution notebook defines them."""
    namespace = {"__name__": "notebook"}
    for name in ("common.py", "two_stage_detector.py"):
        tree = ast.parse((ROOT / "reference" / name).read_text())
        tree.body = [node for node in tree.body if not (isinstance(node, ast.ImportFrom) and node.module == "common")]
        exec(compile(tree, str(ROOT / "reference" / name), "exec"), namespace)
    return namespace


def test_check_in_a_notebook_namespace_reports_and_restores(checks_module):
    namespace = notebook_namespace()
    before = dict(namespace)
    results = checks_module.run_checks(checks_module.NotebookDefinitions(namespace), ["RPN", "iou"])
    assert len(results) == 4 and all(r["passed"] for r in results), results
    assert namespace == before  # the probes' stand-ins are gone again

    os.environ.pop("DETECTOR_BACKBONE_WEIGHTS", None)
    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    results = checks_module.run_checks(checks_module.NotebookDefinitions(namespace), ["DetectorBackboneWithFPN"])
    assert all(r["passed"] for r in results), results
    assert "DETECTOR_BACKBONE_WEIGHTS" not in os.environ  # the notebook's training still gets ImageNet weights
    assert torch.equal(torch.rand(3), expected_draw)  # nor are its random numbers changed
    assert namespace == before

    namespace["iou"] = lambda boxes1, boxes2: torch.zeros(len(boxes2), len(boxes1))
    results = checks_module.run_checks(checks_module.NotebookDefinitions(namespace), ["iou"])
    assert not results[0]["passed"] and "expected shape (7, 11), got (11, 7)" in results[0]["message"]


def test_check_prints_pass_and_fail_for_the_callers_globals(checks_module, capsys):
    namespace = {"check": checks_module.check, "iou": load_reference().iou}
    exec("result = check('iou')", namespace)
    assert namespace["result"] is True
    assert "PASS  iou: golden case random_7x11" in capsys.readouterr().out
    namespace["iou"] = lambda boxes1, boxes2: None
    exec("result = check('iou')", namespace)
    printed = capsys.readouterr().out
    assert namespace["result"] is False and "FAIL  iou" in printed and "returned None" in printed
    with pytest.raises(ValueError, match="no public checks for ious"):
        exec("check('ious')", namespace)


# ---------------------------------------------------- one source of truth
def vendored_sources(text: str) -> dict:
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["_VENDORED"]:
            return dict(ast.literal_eval(node.value))
    raise AssertionError("checks.py has no _VENDORED table")


def test_vendored_modules_are_the_graders_own_with_renamed_imports():
    vendored = vendored_sources((ROOT / public_checks.CHECKS_MODULE).read_text())
    assert list(vendored) == [public_checks.vendored_name(path) for path in public_checks.VENDORED_MODULES]
    for path in public_checks.VENDORED_MODULES:
        original = (ROOT / path).read_text()
        copy = vendored[public_checks.vendored_name(path)]
        assert "_grader" not in original
        assert re.sub(r"\b_grader\b", "autograder", copy) == original, path
        assert not re.search(r"^\s*(from|import) autograder\b", copy, re.M), path


def test_checks_data_holds_the_golden_inputs_and_stored_answers(checks_module):
    cases = [c for c in checks_module.load_cases(ROOT / public_checks.CHECKS_DATA) if c["judge"] == "golden"]
    pairs = list(zip(golden_cases(load_reference()), load_golden()))
    assert [(c["definition"], c["name"]) for c in cases] == [(g.definition, g.name) for g, _ in pairs]

    def same(a, b):
        if isinstance(b, torch.Tensor):
            return isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
        if isinstance(b, (list, tuple)):
            return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b

    for case, (golden, record) in zip(cases, pairs):
        assert case["probe"] == golden.probe and case["reply_key"] == golden.reply_key
        assert same(case["kwargs"], golden.kwargs), golden.name
        assert same(case["expected"], record["expected"]), golden.name


def test_public_nms_answer_is_the_references():
    from autograder.units.invariant_checks import NMS_EQUAL_IOU_BOXES, NMS_EQUAL_IOU_KEEP, NMS_EQUAL_IOU_SCORES
    assert torch.equal(load_reference().nms(NMS_EQUAL_IOU_BOXES, NMS_EQUAL_IOU_SCORES, 0.5), NMS_EQUAL_IOU_KEEP)


def test_public_faster_rcnn_answers_are_the_references():
    """The reference-free answers of the public FasterRCNN checks are what the reference computes."""
    from autograder.units.invariant_checks import FPN_STRIDES, linear_fpn_case, linear_roi_features, strict_threshold_case
    from autograder.probes.fakes import CaptureHead, FakeBackbone, FakeRPN
    reference = load_reference()
    case = linear_fpn_case()
    capture = CaptureHead(21)
    model = reference.FasterRCNN(FakeBackbone(case["feats"], 8, FPN_STRIDES), FakeRPN(case["proposals"]),
                                 stem_channels=[8], num_classes=20, batch_size_per_image=16, roi_size=(7, 7)).eval()
    model.cls_pred = capture
    with torch.no_grad():
        model(torch.zeros(1, 3, 8, 8), test_score_thresh=0.5, test_nms_thresh=0.5)
    assert torch.allclose(capture.seen[0].double(), linear_roi_features(case["proposals"]), atol=1e-5)

    kwargs, expected = strict_threshold_case()
    model = reference.FasterRCNN.__new__(reference.FasterRCNN)
    torch.nn.Module.__init__(model)
    model.num_classes = 20
    detections = model.inference(torch.zeros(1, 3, 8, 8), kwargs["proposals"], kwargs["logits"], 0.5, 0.5)
    assert all(torch.equal(a.double(), e.double()) for a, e in zip(detections, expected))


def test_public_invariants_use_the_reference_backbone_channels():
    from autograder.units.invariant_checks import REGNET_X_400MF_CHANNELS
    os.environ.setdefault("DETECTOR_BACKBONE_WEIGHTS", "random")
    torch.manual_seed(0)
    backbone = load_reference().DetectorBackboneWithFPN(8)
    laterals = sorted(c.in_channels for c in backbone.fpn_params.values() if c.kernel_size == (1, 1))
    assert laterals == REGNET_X_400MF_CHANNELS


def test_the_release_ships_no_grader_or_reference_import(unpacked):
    text = (unpacked / "checks.py").read_text()
    assert not re.search(r"^\s*(from|import) (autograder|reference|data_scripts)\b", text, re.M)
    assert "BEGIN SOLUTION" not in text and "BEGIN SOLUTION" not in (unpacked / "checks_data.json").read_text()


def test_the_leak_check_reads_the_strings_of_the_checks_data(release):
    members = read_archive(release.build[release_paths.ARCHIVE])
    checked = solution_lines(release.references)
    line = sorted(checked)[0]
    data_name = f"{release_paths.ARCHIVE_FOLDER}/checks_data.json"
    document = json.loads(members[data_name])
    document["cases"][0]["name"] = f"innocent\n{line}"
    leaks = find_leaks({data_name: json.dumps(document).encode()}, checked)
    assert [leak.text for leak in leaks] == [line.strip()]


def test_reference_answered_cases_are_the_graded_tests_with_the_public_seed(checks_module):
    from autograder.units.network_cases import second_stage_loss_case
    stored = [c for c in checks_module.load_cases(ROOT / public_checks.CHECKS_DATA) if c["judge"] != "golden"]
    kwargs, expected, _ = second_stage_loss_case(load_reference(),
                                              torch.Generator().manual_seed(public_checks.REFERENCE_CASE_SEED))
    assert [(c["definition"], c["name"], c["probe"], c["judge"]) for c in stored] == [
        ("FasterRCNN", "loss_two_images", "networks.faster_rcnn", "second_stage_loss")]
    assert torch.allclose(stored[0]["expected"], expected, rtol=1e-6)
    assert torch.equal(stored[0]["kwargs"]["gt_boxes"], kwargs["gt_boxes"])
    assert all(torch.equal(a, b) for a, b in zip(stored[0]["kwargs"]["head"][-1], kwargs["head"][-1]))


def test_the_checks_cover_every_graded_definition(checks_module):
    from autograder.submission_layout import GRADED_NAMES
    assert sorted(checks_module.GRADED_DEFINITIONS) == sorted(GRADED_NAMES)
    cases = checks_module.public_cases(checks_module.load_cases())
    assert {case["definition"] for case in cases} == set(GRADED_NAMES)
