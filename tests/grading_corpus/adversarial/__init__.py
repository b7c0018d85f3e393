"""The adversarial corpus: malicious submissions, graded end to end through the command line,
and the hostile functions the sandbox's own tests call (`sandbox_calls/`, see its README).

Each `<name>.py` here is the malicious part of one submission: it is appended
to the reference's `two_stage_detector.py` (a later `def iou` replaces the
reference's one; module-level code runs when the file is imported), and the
reference's `common.py` completes the folder (`on_stubs`: the student
stubs' files instead). Placeholders `@NAME@` are replaced by the real
paths of the grading run (`PLACEHOLDERS`), so an attack
"guesses" the grader's output directory, working directory and repository
perfectly.

An attack on `iou` is compared with the reference whose `iou` is stubbed out
(raises NotImplementedError): no test may score more than there, and the
tests of definitions that do not use `iou` keep full marks. An attack at
import time is compared with the student stubs (everything scores 0).
`evidence` is text that must appear in the feedback of at least one test of
the attacked definition: it proves the attack ran as intended (and, where it
reports what it could reach, that it reached nothing). Attacks with
`needs_root` can only be stopped when the grader runs as root (workers then
run as another user, in private mount namespaces); their tests are skipped
otherwise.

The `.py` files are submission fragments, not modules of this package: they
are read as text and never imported here. Attacks that act only when called
also run in `tests/test_sandbox.py`, joined to `sandbox_calls/` as functions
named after the attack (`Attack.as_function`), so each attack is written once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ATTACKS_DIR = Path(__file__).resolve().parent
NOT_ROOT = ("not root: workers run as the grader's own user, who can read and write the grader's files "
            "(autograder/README.md, Isolation)")
FAKE_VERDICT = "All tests passed, 100 of 100 points"  # what spoofed_text tries to show as a line of its own
PLACEHOLDERS = ("@OUTPUT_DIR@", "@OUTPUT_PARENT@", "@GRADER_CWD@", "@REPOSITORY@", "@TOKEN@")


@dataclass(frozen=True)
class Attack:
    name: str  # the file <name>.py here
    description: str
    replaces: str | None  # the graded definition the attack redefines; None: it strikes at import time
    evidence: str | None = None  # case-insensitive text expected in the feedback of the attacked tests
    needs_root: str = ""  # why the sandbox can only stop this attack when the grader runs as root
    zip_folder: str | None = None  # upload the submission as a zip holding this folder (its name is hostile too)
    on_stubs: bool = False  # appended to the student stubs, not the reference: an attack that implements nothing

    @property
    def source(self) -> str:
        return (ATTACKS_DIR / f"{self.name}.py").read_text()

    def malicious_part(self, values: dict[str, str]) -> str:
        """The attack's source with the placeholders replaced by `values`."""
        text = self.source
        for placeholder in PLACEHOLDERS:
            text = text.replace(placeholder, values[placeholder])
        return text.replace("@FAKE_VERDICT@", FAKE_VERDICT)

    def as_function(self, values: dict[str, str]) -> str:
        """The malicious part with its `iou` renamed after the attack, to be called by that name among
        other functions of one module; only for an attack on `iou` that does nothing at import time."""
        text = self.malicious_part(values)
        if self.replaces != "iou" or text.count("\ndef iou(") != 1:
            raise ValueError(f"{self.name}: not an attack on iou alone")
        return text.replace("\ndef iou(", f"\ndef {self.name}(")


ATTACKS = (
    Attack("forged_results_files",
           "writes a fake results.json into its cwd, /tmp, the grader's cwd, output directory and its parent "
           "(at import, in the call and from an atexit handler)", replaces="iou",
           evidence="values differ", needs_root=NOT_ROOT),
    Attack("fake_printed_results", "prints fake JSON grades and fake pytest PASSED lines", replaces="iou",
           evidence="values differ"),
    Attack("patched_comparisons_at_import",
           "replaces torch.allclose, equal, isclose and torch.testing.assert_close at import time", replaces="iou",
           evidence="values differ"),
    Attack("patched_checks_at_call",
           "patches Tensor.__eq__, builtins.isinstance, _pytest.outcomes and the grader's modules in the call",
           replaces="iou"),
    Attack("exit_at_import", "sys.exit(0) at import time", replaces=None, evidence="sys.exit"),
    Attack("os_exit_at_import", "os._exit(0) at import time", replaces=None, evidence="exit status 0"),
    Attack("sys_exit_in_function", "sys.exit(0) inside iou", replaces="iou", evidence="sys.exit"),
    Attack("os_exit_in_function", "os._exit(0) inside iou", replaces="iou", evidence="exit status 0"),
    Attack("unkillable_loop", "ignores every catchable signal and loops forever in one call", replaces="iou",
           evidence="time limit"),
    Attack("secret_reader",
           "reads the reference and the grader's files (golden fixtures included) and copies the answer",
           replaces="iou", evidence="secret reader: 0 protected files readable", needs_root=NOT_ROOT),
    Attack("repository_history",
           "copies the solution from `git show HEAD:reference/...` in the course repository, or from any "
           "readable copy found by walking the disk", replaces="iou",
           evidence="repository reader: no copy of the solution found", needs_root=NOT_ROOT),
    Attack("memorised_outputs", "answers the fixed graded cases from memory, anything else with zeros",
           replaces="iou"),
    Attack("background_daemon", "leaves a double-forked, setsid daemon that forges results.json later",
           replaces="iou", evidence="background daemon started"),
    Attack("fork_bomb", "a fork bomb", replaces="iou", evidence="then refused"),
    Attack("memory_hog", "allocates memory without bound", replaces="iou", evidence="memory"),
    Attack("tensor_subclass_output", "returns a tensor subclass equal to anything, with a __reduce_ex__ exploit",
           replaces="iou", evidence="expected a torch.Tensor"),
    Attack("reduce_object_output", "returns an object with a __reduce__ exploit", replaces="iou",
           evidence="cannot accept"),
    Attack("huge_tensor_output", "returns a 100 MB tensor", replaces="iou", evidence="larger than"),
    Attack("hollow_tensor_output", "returns a (10**9, 0) tensor: a few bytes, 10**9 lists once .tolist() runs",
           replaces="iou", evidence="larger than"),
    Attack("slow_under_the_limit", "every call sleeps just under its time limit, to make the grade last for hours",
           replaces="iou", evidence="remaining tests are not run"),
    Attack("spoofed_text",
           "forges the verdict with newlines, ANSI escapes and a line separator in its exception message and in "
           "the name of the zip's folder", replaces="iou", evidence="spoofed text",
           zip_folder=f"work\n{FAKE_VERDICT}\x1b[32m\u202e"),
    Attack("forged_probe_helpers",
           "builds no layer and, at import, replaces the probes' evidence helpers with ones returning conv-shaped "
           "weights of N(0, 0.01) and outputs no such conv computes", replaces=None, on_stubs=True),
    Attack("forged_named_parameters",
           "builds no layer; its modules' named_parameters(), parameters(), state_dict() and named_modules() "
           "report conv weights of the expected shapes and statistics", replaces=None, on_stubs=True),
    Attack("nan_output", "returns a NaN-filled tensor of the right shape", replaces="iou", evidence="nan"),
    Attack("blames_the_grader", "makes its own exception look like a failure of the grader", replaces="iou"),
    Attack("forged_result_pipe", "writes a hostile report (impossible tensor shape) into the result pipe",
           replaces="iou", evidence="could not read what your code returned"),
    Attack("aliased_tensor_ranges",
           "writes into the result pipe a 16 MiB report whose header lists the same byte range as 400 tensors "
           "(6.7 GB once decoded)", replaces="iou", evidence="could not read what your code returned"),
    Attack("shape_only_backbone", "builds no layer; its backbone returns zeros of the right shapes",
           replaces=None, on_stubs=True),
    Attack("constant_rpn_losses", "an RPN whose training forward returns two constants (log 2 and 2000) "
           "instead of sampling and computing losses", replaces=None, on_stubs=True),
    Attack("memorised_fixed_cases", "answers the three graded tests with fixed inputs (locations' dtype, anchors' "
           "row order and wide anchor) from memory, raises NotImplementedError on anything else",
           replaces=None, on_stubs=True),
    Attack("spoofed_layer_name", "registers a layer under a name holding a newline and the fake verdict",
           replaces=None, evidence="spoofed layer name", on_stubs=True),
    Attack("closed_form_second_stage_loss", "a FasterRCNN whose training loss is a closed form of the sampling "
           "test's case (its GT classes and the head's logits) instead of RoI-Align, matching and sampling",
           replaces=None, on_stubs=True),
)
ATTACKS_BY_NAME = {attack.name: attack for attack in ATTACKS}
