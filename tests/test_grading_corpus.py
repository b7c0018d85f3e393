"""The autograder is fair and safe: graded end to end on corpora of submissions.

* The reference earns full marks, the same results.json three times over.
* The student stubs earn 0, each test saying "not implemented", with no traceback.
* Each plausible bug (`grading_corpus/plausible_bugs.py`) loses points on the
  definition it breaks, keeps full marks on the definitions that cannot see
  it, and the feedback of its failing tests names the definition.
* Each adversarial submission (`grading_corpus/adversarial/`) is graded to
  completion with a valid results.json written by the grader only, earns no
  point its baseline does not earn, leaves the other definitions' grades
  alone and leaves nothing behind (files, processes).
* Each valid alternative (`grading_corpus/valid_alternatives/`), a correct
  solution in another style than the reference's, earns full marks (with
  `AUTOGRADER_CASE_SECRET=...` in the environment: on that secret's cases).

Every submission is graded once, with `python -m autograder grade ...
--units-only` in a subprocess, several at a time (`GRADING_CORPUS_JOBS`,
default 2), as soon as the module starts; the tests then read the results.
The default run grades a representative subset (one bug per graded
definition, the main attacks); `GRADING_CORPUS=full` grades everything.
`GRADING_CORPUS_REPORT=FILE` writes a Markdown summary of every grading
(score, and each test that lost points with its feedback) to FILE.

Known grading problems are marked `xfail(strict=True)` with the reason
(`GRADING_PROBLEMS`): they pass the day the grader is fixed, and then the
mark must go.
"""
from __future__ import annotations

import os
import re
import secrets
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from grading_corpus.adversarial import ATTACKS, ATTACKS_BY_NAME, ATTACKS_DIR, FAKE_VERDICT, Attack
from grading_corpus.pinned_rules import RULES
from grading_corpus.plausible_bugs import (
    BUGS,
    BUGS_BY_NAME,
    CALLERS,
    DETECTOR,
    GRADED_DEFINITIONS,
    REPOSITORY,
    Bug,
    CorpusError,
    Edit,
    apply_edits,
    edit_is_inside_solution,
    reference_sources,
)
from grading_corpus.submissions import (
    STUB_MESSAGE,
    STUDENT_DIR,
    Grading,
    grade,
    stub_out,
    well_formed_problems,
    without_timing,
    write_submission,
)
from grading_corpus.valid_alternatives import ALTERNATIVES, ALTERNATIVES_BY_NAME, ALTERNATIVES_DIR, Alternative

FULL_CORPUS = os.environ.get("GRADING_CORPUS", "") == "full"
JOBS = int(os.environ.get("GRADING_CORPUS_JOBS", "2"))
REFERENCE_RUNS = 3
REPORT_PATH = os.environ.get("GRADING_CORPUS_REPORT")  # write a Markdown summary of every grading there
REPORT_MESSAGE_CHARS = 240

# The default run: one bug per graded definition, and the attacks that matter most.
DEFAULT_BUGS = (
    "iou_union_without_intersection",
    "nms_returns_sorted_positions",
    "locations_y_varies_fastest",
    "anchors_inverted_aspect_ratio",
    "deltas_background_not_ignored",
    "apply_deltas_without_exp",
    "fpn_output_conv_without_padding",
    "rpn_objectness_anchor_major",
    "rpn_box_loss_on_background",
    "seed_roi_features_level_major",
    "rpn_skips_pre_nms_topk",  # a rule the cases reach only by construction (a cluster)
    "loss_cls_summed",  # a hint from a concrete wrong variant
)
DEFAULT_ATTACKS = (
    "forged_results_files",
    "patched_comparisons_at_import",
    "exit_at_import",
    "secret_reader",
    "repository_history",
    "memorised_outputs",
    "background_daemon",
    "fork_bomb",
    "tensor_subclass_output",
)
SELECTED_BUGS = BUGS if FULL_CORPUS else tuple(BUGS_BY_NAME[name] for name in DEFAULT_BUGS)
SELECTED_ATTACKS = ATTACKS if FULL_CORPUS else tuple(ATTACKS_BY_NAME[name] for name in DEFAULT_ATTACKS)
# The default run grades two valid alternatives (grading_corpus/valid_alternatives/), the full one all.
DEFAULT_ALTERNATIVES = ("minimal_todos", "tie_orders_einsum")
SELECTED_ALTERNATIVES = (ALTERNATIVES if FULL_CORPUS
                         else tuple(ALTERNATIVES_BY_NAME[name] for name in DEFAULT_ALTERNATIVES))

# Graded tests whose fixed inputs `memorised_outputs` answers from memory.
MEMORISED_CASE_TESTS = (
    "iou: the notebook's sanity example (rows shuffled, boxes translated)",
    "iou: disjoint, touching, nested and identical boxes",
)
# Attacks judged by their own tests below rather than by "no gain".
ATTACKS_WITH_OWN_SCORE_CHECKS = ("memorised_outputs",)

# expectation (test function name) -> corpus entry -> why the grader fails it today.
GRADING_PROBLEMS: dict[str, dict[str, str]] = {}


def corpus_params(expectation: str, entries):
    """`pytest.param`s of bugs or attacks, marked xfail(strict) where `GRADING_PROBLEMS` lists them,
    and skipped when an attack needs a grader running as root and this one is not."""
    problems = GRADING_PROBLEMS.get(expectation, {})
    params = []
    for entry in entries:
        marks = []
        if entry.name in problems:
            marks.append(pytest.mark.xfail(strict=True, reason=problems[entry.name]))
        if getattr(entry, "needs_root", "") and os.geteuid() != 0:
            marks.append(pytest.mark.skip(reason=entry.needs_root))
        params.append(pytest.param(entry, id=entry.name, marks=marks))
    return params


# ------------------------------------------------------------------------------- grading
class Corpus:
    """Grades submissions in the background (`jobs` at a time); `get(key)` waits for one."""

    def __init__(self, root: Path, jobs: int) -> None:
        self.root = root
        # A name per attack, for its files in /tmp and its processes (/proc/PID/comm holds 15 characters).
        self.tokens = {attack.name: "agc" + secrets.token_hex(4) for attack in ATTACKS}
        self._pool = ThreadPoolExecutor(max_workers=jobs)
        self._futures: dict[str, Future] = {}

    def submit(self, key: str) -> None:
        if key not in self._futures:
            self._futures[key] = self._pool.submit(self._build_and_grade, key)

    def get(self, key: str) -> Grading:
        self.submit(key)
        return self._futures[key].result()

    def workspace(self, key: str) -> Path:
        return self.root / key.replace(":", "-")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def write_report(self, path: Path) -> None:
        """Markdown: each graded submission's exit status, score and the tests that lost points."""
        lines = []
        for key, future in self._futures.items():
            if not future.done() or future.exception() is not None:
                continue
            grading = future.result()
            tests = grading.tests() if grading.results else []
            score = f"{grading.results['score']:g}" if grading.results else "no results.json"
            lines.append(f"## {key}: {score} / {sum(test['max_score'] for test in tests):g}, "
                         f"exit status {grading.returncode}")
            for test in lost_points(tests):
                message = " ".join(test["output"].split())[:REPORT_MESSAGE_CHARS]
                lines.append(f"- {test['score']:g}/{test['max_score']:g} {test['name']}: {message}")
            lines.append("")
        path.write_text("\n".join(lines))

    def _build_and_grade(self, key: str) -> Grading:
        workspace = self.workspace(key)
        kind, _, name = key.partition(":")
        if kind == "stubs":  # the released folder itself, as students get it
            return grade(STUDENT_DIR, workspace)
        if kind == "reference":
            sources = reference_sources()
        elif kind == "stubbed":
            sources = stub_out(reference_sources(), name)
        elif kind == "bug":
            sources = apply_edits(reference_sources(), BUGS_BY_NAME[name].edits)
        elif kind == "attack":
            sources = self._attack_sources(ATTACKS_BY_NAME[name], workspace)
        elif kind == "valid":
            sources = ALTERNATIVES_BY_NAME[name].sources()
        else:
            raise ValueError(key)
        zip_folder = ATTACKS_BY_NAME[name].zip_folder if kind == "attack" else None
        if zip_folder is not None:
            workspace.mkdir(parents=True, exist_ok=True)
            upload = workspace / "submission.zip"
            with zipfile.ZipFile(upload, "w") as archive:
                for file_name, text in sources.items():
                    archive.writestr(f"{zip_folder}/{file_name}", text)
            return grade(upload, workspace)
        folder = write_submission(workspace / "submission", sources)
        return grade(folder, workspace)

    def _attack_sources(self, attack: Attack, workspace: Path) -> dict[str, str]:
        values = {
            "@OUTPUT_DIR@": str(workspace / "grading" / "out"),
            "@OUTPUT_PARENT@": str(workspace / "grading"),
            "@GRADER_CWD@": str(workspace / "grader_cwd"),
            "@REPOSITORY@": str(REPOSITORY),
            "@TOKEN@": self.tokens[attack.name],
        }
        sources = stub_sources() if attack.on_stubs else reference_sources()
        return {**sources, DETECTOR: sources[DETECTOR] + "\n\n" + attack.malicious_part(values)}


def stub_sources() -> dict[str, str]:
    """The student stubs' two files, as released."""
    return {name: (STUDENT_DIR / name).read_text() for name in reference_sources()}


def baseline_key(attack: Attack) -> str:
    return f"stubbed:{attack.replaces}" if attack.replaces else "stubs"


def keys_needed_by(item: pytest.Item) -> list[str]:
    if "corpus" not in getattr(item, "fixturenames", ()) or item.get_closest_marker("skip"):
        return []
    params = item.callspec.params if hasattr(item, "callspec") else {}
    entry = params.get("bug") or params.get("attack")
    if isinstance(entry, Bug):
        return [f"bug:{entry.name}"]
    if isinstance(entry, Attack):
        return [f"attack:{entry.name}", baseline_key(entry)]
    if isinstance(params.get("alternative"), Alternative):
        return [f"valid:{params['alternative'].name}"]
    return [key for key in getattr(item.function, "grades", ())]


def grades(*keys: str):
    """Declare the submissions a non-parametrised test reads (so they are graded up front)."""
    def mark(function):
        function.grades = keys
        return function
    return mark


@pytest.fixture(scope="module")
def corpus(request, tmp_path_factory):
    corpus = Corpus(tmp_path_factory.mktemp("grading_corpus"), JOBS)
    for item in request.session.items:
        if item.module is request.module:
            for key in keys_needed_by(item):
                corpus.submit(key)
    yield corpus
    if REPORT_PATH:
        corpus.write_report(Path(REPORT_PATH))
    corpus.close()


def lost_points(tests: list[dict]) -> list[dict]:
    return [test for test in tests if test["score"] < test["max_score"]]


def names_definition(text: str, definition: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(definition)}(?![A-Za-z0-9_])", text) is not None


def graded_only_on(grading: Grading, definitions: tuple[str, ...]) -> list[dict]:
    """Tests whose tags are all among `definitions` (tests tagged with nothing count too)."""
    return [test for test in grading.tests() if set(test["tags"]) <= set(definitions)]


def unaffected_by(definition: str | None) -> tuple[str, ...]:
    """Graded definitions whose tests cannot see a change to `definition` (None: to everything)."""
    if definition is None:
        return ()
    affected = {definition, *CALLERS[definition]}
    return tuple(name for name in GRADED_DEFINITIONS if name not in affected)


def living_processes_named(name: str) -> list[int]:
    """Pids of processes (zombies excluded) whose /proc/PID/comm is `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == name and state != "Z":
            found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ the corpus itself (fast)
def test_corpus_has_at_least_18_bugs_and_one_per_graded_definition():
    assert len(BUGS) >= 18
    assert len(BUGS_BY_NAME) == len(BUGS), "bug names are unique"
    assert {name for bug in BUGS for name in bug.breaks} == set(GRADED_DEFINITIONS)


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_applies_to_the_reference_and_compiles(bug):
    sources = apply_edits(reference_sources(), bug.edits)

    assert sources != reference_sources()
    for name, text in sources.items():
        compile(text, name, "exec")
    assert set(bug.breaks) <= set(GRADED_DEFINITIONS) and set(bug.keeps) <= set(GRADED_DEFINITIONS)
    assert not set(bug.breaks) & set(bug.keeps)


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_edits_stay_in_solution_regions_unless_it_says_why(bug):
    reference = reference_sources()
    outside = [edit.old for edit in bug.edits if not edit_is_inside_solution(reference[edit.file], edit)]

    assert not outside or bug.outside_solution, f"edits outside the solution regions: {outside}"
    assert outside or not bug.outside_solution, "outside_solution is set but every edit is inside a region"


def test_apply_edits_refuses_text_that_does_not_occur_exactly_once():
    reference = reference_sources()
    missing = Edit(DETECTOR, "this line is not in the reference\n", "")
    repeated = Edit(DETECTOR, "        # BEGIN SOLUTION\n", "")

    with pytest.raises(CorpusError, match="found 0"):
        apply_edits(reference, (missing,))
    with pytest.raises(CorpusError, match=f"found {reference[DETECTOR].count(repeated.old)}"):
        apply_edits(reference, (repeated,))


def test_stub_out_replaces_the_solution_regions_of_one_definition_only():
    reference = reference_sources()

    stubbed = stub_out(reference, "iou")

    assert stubbed[DETECTOR].count(STUB_MESSAGE) == 1
    assert 'raise NotImplementedError("iou: stubbed out by the grading corpus")' in stubbed[DETECTOR]
    assert "    iou = inter / (area1[:, None] + area2[None, :] - inter)\n" not in stubbed[DETECTOR]
    assert stubbed["common.py"] == reference["common.py"]


def test_every_attack_file_is_catalogued():
    files = {path.stem for path in ATTACKS_DIR.glob("*.py") if path.name != "__init__.py"}

    assert files == set(ATTACKS_BY_NAME)


# ------------------------------------------------------------------------- reference, stubs
@grades(*(f"reference:{run}" for run in range(1, REFERENCE_RUNS + 1)))
def test_reference_earns_full_marks(corpus):
    grading = corpus.get("reference:1")

    assert grading.returncode == 0, grading.describe()
    assert well_formed_problems(grading.results) == []
    assert grading.results["score"] == sum(test["max_score"] for test in grading.tests()), grading.describe()
    assert all(test["status"] == "passed" and test["output"] == "" for test in grading.tests()), grading.describe()


@grades(*(f"reference:{run}" for run in range(1, REFERENCE_RUNS + 1)))
def test_reference_grading_is_identical_three_times_apart_from_timing(corpus):
    runs = [corpus.get(f"reference:{run}") for run in range(1, REFERENCE_RUNS + 1)]

    assert all(run.returncode == 0 for run in runs)
    assert without_timing(runs[1].results) == without_timing(runs[0].results)
    assert without_timing(runs[2].results) == without_timing(runs[0].results)


@grades("stubs")
def test_student_stubs_score_zero(corpus):
    grading = corpus.get("stubs")

    assert grading.returncode == 0, grading.describe()
    assert well_formed_problems(grading.results) == []
    assert grading.results["score"] == 0
    assert all(test["score"] == 0 and test["status"] == "failed" for test in grading.tests())


@grades("stubs")
def test_student_stubs_feedback_says_not_implemented_without_traceback(corpus):
    grading = corpus.get("stubs")

    unclear = [test for test in grading.tests() if "not implemented" not in test["output"].lower()]
    tracebacks = [test for test in grading.tests()
                  if "Traceback (most recent call last)" in test["output"] or 'File "' in test["output"]]

    assert unclear == [], grading.describe()
    assert tracebacks == [], grading.describe()


@grades("reference:1", "stubbed:iou")
def test_stubbing_out_iou_costs_points_on_iou_and_its_callers_only(corpus):
    """The baseline of the attacks on `iou` is itself a fair grade."""
    grading = corpus.get("stubbed:iou")

    assert grading.returncode == 0, grading.describe()
    assert all(test["score"] == 0 for test in grading.tagged("iou")), grading.describe()
    kept = graded_only_on(grading, unaffected_by("iou"))
    assert all(test["score"] == test["max_score"] for test in kept), grading.describe()


# ---------------------------------------------------------------------------- plausible bugs
@pytest.mark.parametrize("bug", corpus_params("test_bug_loses_points_on_its_definition", SELECTED_BUGS))
def test_bug_loses_points_on_its_definition(corpus, bug):
    grading = corpus.get(f"bug:{bug.name}")

    assert grading.returncode == 0, grading.describe()
    assert well_formed_problems(grading.results) == []
    for definition in bug.breaks:
        assert grading.tagged(definition), f"no graded test is tagged {definition!r}"
        assert lost_points(grading.tagged(definition)), (
            f"{bug.name} ({bug.description}) lost no point on {definition}:\n{grading.describe()}"
        )


@pytest.mark.parametrize("bug", corpus_params("test_bug_keeps_full_marks_elsewhere", SELECTED_BUGS))
def test_bug_keeps_full_marks_elsewhere(corpus, bug):
    grading = corpus.get(f"bug:{bug.name}")

    penalised = lost_points(graded_only_on(grading, bug.keeps))

    assert penalised == [], f"{bug.name} cost points on definitions it cannot affect:\n{grading.describe()}"


@pytest.mark.parametrize("bug", corpus_params("test_bug_feedback_names_the_definition", SELECTED_BUGS))
def test_bug_feedback_names_the_definition(corpus, bug):
    grading = corpus.get(f"bug:{bug.name}")

    for definition in bug.breaks:
        failing = lost_points(grading.tagged(definition))
        unnamed = [test["name"] for test in failing if not names_definition(test["output"], definition)]
        assert failing and unnamed == [], f"feedback not naming {definition}:\n{grading.describe()}"


# ------------------------------------------------------------------------ adversarial corpus
@pytest.mark.parametrize("attack", corpus_params("test_attack_is_graded_to_completion", SELECTED_ATTACKS))
def test_attack_is_graded_to_completion(corpus, attack):
    grading = corpus.get(f"attack:{attack.name}")
    reference_names = [test["name"] for test in corpus.get(baseline_key(attack)).tests()]

    assert grading.returncode == 0, grading.describe()
    assert well_formed_problems(grading.results) == []
    assert [test["name"] for test in grading.tests()] == reference_names
    assert "grader failed" not in grading.results["output"]
    assert (grading.out_dir / "results.json").stat().st_uid == os.geteuid(), "written by the grader's user"


@pytest.mark.parametrize("attack", corpus_params(
    "test_attack_gains_no_point", [a for a in SELECTED_ATTACKS if a.name not in ATTACKS_WITH_OWN_SCORE_CHECKS]))
def test_attack_gains_no_point(corpus, attack):
    grading, baseline = corpus.get(f"attack:{attack.name}"), corpus.get(baseline_key(attack))

    gained = {name: (score, baseline.score_of()[name]) for name, score in grading.score_of().items()
              if score > baseline.score_of()[name]}

    assert gained == {}, f"scores (attack, baseline) above the baseline:\n{grading.describe()}"


@pytest.mark.parametrize("attack", corpus_params("test_attack_leaves_other_definitions_alone", SELECTED_ATTACKS))
def test_attack_leaves_other_definitions_alone(corpus, attack):
    grading = corpus.get(f"attack:{attack.name}")

    penalised = lost_points(graded_only_on(grading, unaffected_by(attack.replaces)))

    assert penalised == [], grading.describe()


@pytest.mark.parametrize("attack", corpus_params(
    "test_attack_ran_as_intended", [a for a in SELECTED_ATTACKS if a.evidence]))
def test_attack_ran_as_intended(corpus, attack):
    """The attacked tests' feedback shows the attack ran (and, where it reports it, reached nothing)."""
    grading = corpus.get(f"attack:{attack.name}")
    attacked = grading.tagged(attack.replaces) if attack.replaces else grading.tests()

    assert any(attack.evidence.lower() in test["output"].lower() for test in attacked), grading.describe()


@pytest.mark.parametrize("attack", corpus_params("test_attack_leaves_nothing_behind", SELECTED_ATTACKS))
def test_attack_leaves_nothing_behind(corpus, attack):
    grading = corpus.get(f"attack:{attack.name}")
    token = corpus.tokens[attack.name]

    assert sorted(path.name for path in grading.out_dir.iterdir()) == ["results.json"]
    assert not (grading.out_dir.parent / "results.json").exists()
    assert not (grading.grader_cwd / "results.json").exists()
    assert not (REPOSITORY / "results.json").exists()
    assert not Path(f"/tmp/{token}-results.json").exists()
    assert not Path(f"/tmp/{token}-pwned").exists()
    assert living_processes_named(token) == []
    assert "forged" not in grading.results["output"] and grading.results["score"] < 1000


@pytest.mark.parametrize("attack", corpus_params("test_attack_text_cannot_forge_results_text", SELECTED_ATTACKS))
def test_attack_text_cannot_forge_results_text(corpus, attack):
    """No escape sequence or invisible character, and no line of the results that is the fake verdict."""
    grading = corpus.get(f"attack:{attack.name}")
    texts = [grading.results["output"]] + [test["output"] for test in grading.tests()]

    assert not [text for text in texts if re.search(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029\u202a-\u202e]", text)]
    assert not [line for text in texts for line in text.splitlines() if line.startswith(FAKE_VERDICT)]


@pytest.mark.parametrize("attack", corpus_params(
    "test_memorised_outputs_earn_nothing_on_fresh_random_cases",
    [a for a in SELECTED_ATTACKS if a.name == "memorised_outputs"]))
def test_memorised_outputs_earn_nothing_on_fresh_random_cases(corpus, attack):
    grading, baseline = corpus.get(f"attack:{attack.name}"), corpus.get(baseline_key(attack))

    gained = [test["name"] for test in grading.tests()
              if test["name"] not in MEMORISED_CASE_TESTS and test["score"] > baseline.score_of()[test["name"]]]

    assert gained == [], grading.describe()


@pytest.mark.parametrize("attack", corpus_params(
    "test_memorised_outputs_earn_nothing_overall", [a for a in SELECTED_ATTACKS if a.name == "memorised_outputs"]))
def test_memorised_outputs_earn_nothing_overall(corpus, attack):
    grading, baseline = corpus.get(f"attack:{attack.name}"), corpus.get(baseline_key(attack))

    assert grading.results["score"] <= baseline.results["score"], grading.describe()


# ----------------------------------------------------------------------- valid alternatives
def test_every_valid_alternative_is_catalogued_complete_and_distinct():
    folders = {path.name for path in ALTERNATIVES_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"}
    texts = [alternative.sources() for alternative in ALTERNATIVES]

    assert len(ALTERNATIVES) >= 6 and folders == set(ALTERNATIVES_BY_NAME)
    for alternative, sources in zip(ALTERNATIVES, texts):
        for name, text in sources.items():
            compile(text, f"{alternative.name}/{name}", "exec")
            assert "raise NotImplementedError" not in text, f"{alternative.name}/{name} left a TODO"
    assert all(sources != reference_sources() for sources in texts)
    assert len({tuple(sources.values()) for sources in texts}) == len(texts), "two alternatives are the same"


@pytest.mark.parametrize("alternative", corpus_params("test_valid_alternative_earns_full_marks",
                                                      SELECTED_ALTERNATIVES))
def test_valid_alternative_earns_full_marks(corpus, alternative):
    """A correct submission written in another style than the reference loses no point.
    Run with AUTOGRADER_CASE_SECRET=... to grade it on other case seeds."""
    grading = corpus.get(f"valid:{alternative.name}")

    assert grading.returncode == 0, grading.describe()
    assert well_formed_problems(grading.results) == []
    assert lost_points(grading.tests()) == [], f"{alternative.name} ({alternative.description}):\n{grading.describe()}"


# ------------------------------------------------------------------ pinned rules and hints
def graded_test_name(function_name: str) -> str:
    """The results.json name of a graded test function: its docstring's first line."""
    for path in (REPOSITORY / "autograder").glob("test_*.py"):
        match = re.search(rf'def {function_name}\(.*?\):\n\s+"""(.*?)(?:"""|\n)', path.read_text(), re.S)
        if match:
            return match.group(1)
    raise LookupError(function_name)


@pytest.mark.parametrize("bug", corpus_params("test_bug_gets_its_hint", [b for b in SELECTED_BUGS if b.hint]))
def test_bug_gets_its_hint(corpus, bug):
    grading = corpus.get(f"bug:{bug.name}")

    failing = [test for name in bug.breaks for test in lost_points(grading.tagged(name))]

    assert any(bug.hint in test["output"] for test in failing), f"no hint {bug.hint!r}:\n{grading.describe()}"


@pytest.mark.parametrize("rule, bug", [pytest.param(rule, BUGS_BY_NAME[rule.bug], id=rule.bug) for rule in RULES
                                       if BUGS_BY_NAME[rule.bug] in SELECTED_BUGS])
def test_pinned_rule_is_caught_by_its_test(corpus, rule, bug):
    grading = corpus.get(f"bug:{bug.name}")
    name = graded_test_name(rule.test)

    caught = [test for test in lost_points(grading.tests()) if test["name"].startswith(name)]

    assert caught, f"{rule.rule}: {bug.name} lost no point in {rule.test!r}:\n{grading.describe()}"
