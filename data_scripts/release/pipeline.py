"""The release pipeline: an ordered list of small steps from one marked source.

    reference/*.py (solution regions marked) + notebooks/*.template.md
      1. read the marked reference          markers validated
      2. generate the student stubs         student/*.py
      3. generate the public checks         student/checks.py, student/checks_data.json
      4. read the release settings          notebooks/release_settings.json
      5. read the notebook template         generated grading passages pasted in
      6. refill generated passages          README.md, student/README.md
      7. render the student notebook        notebooks/two_stage_detector.ipynb
      8. render the solution notebook       <out>/solution/... (never shipped)
      9. package the student release        <out>/student_release.zip
     10. check the release for solution lines

Every step reads and extends one in-memory `Release`; nothing touches the
disk until `write_release`, so `--check` runs the very same steps.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from . import public_checks, release_paths
from .archive import build_archive, read_archive
from .definitions import parse_module
from .generated_text import expand_placeholders, fill_blocks, strip_block_markers
from .leaks import assert_no_leaks
from .markers import find_regions
from .namespace import Namespace
from .notebook import notebook_text, render_notebook
from .release_errors import ReleaseError
from .settings import ReleaseSettings, find_unshippable, parse_settings
from .stubs import header_line, make_stub
from .template import TemplateCell, parse_template


@dataclass
class Release:
    """What one run of the pipeline read and made, in memory."""

    root: Path
    references: Dict[str, str] = field(default_factory=dict)  # reference path -> text
    stubs: Dict[str, str] = field(default_factory=dict)  # stub path -> text
    settings: Optional[ReleaseSettings] = None
    template: List[TemplateCell] = field(default_factory=list)
    committed: Dict[str, str] = field(default_factory=dict)  # repository path -> generated text
    sources: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # generated path -> what it is made from
    build: Dict[str, bytes] = field(default_factory=dict)  # path under the output dir -> bytes

    def read(self, path: str) -> str:
        file = self.root / path
        if not file.is_file():
            raise ReleaseError(f"{path}: missing (the release pipeline needs it)")
        return file.read_text(encoding="utf-8")


def read_reference(release: Release) -> None:
    """Read the reference modules and validate their solution markers."""
    for module in release_paths.MODULES:
        path = release_paths.reference_path(module)
        release.references[path] = release.read(path)
        find_regions(release.references[path], path)


def generate_stubs(release: Release) -> None:
    """Replace every solution region by a TODO: student/<module>."""
    for module in release_paths.MODULES:
        reference = release_paths.reference_path(module)
        header = header_line(reference, release_paths.REGENERATE_COMMAND)
        stub = make_stub(release.references[reference], reference, module, header)
        release.stubs[release_paths.stub_path(module)] = stub
        release.committed[release_paths.stub_path(module)] = stub
        release.sources[release_paths.stub_path(module)] = (reference,)


def generate_public_checks(release: Release) -> None:
    """The grader's golden cases, probes and judge for students: student/checks.py and its data."""
    sources = {path: release.read(path) for path in public_checks.VENDORED_MODULES}
    module = public_checks.checks_module(release.read(public_checks.TEMPLATE), sources)
    release.committed[public_checks.CHECKS_MODULE] = module
    release.sources[public_checks.CHECKS_MODULE] = (public_checks.TEMPLATE, *public_checks.VENDORED_MODULES)
    data = public_checks.checks_data(public_checks.golden_records(), public_checks.reference_cases())
    release.committed[public_checks.CHECKS_DATA] = data
    release.sources[public_checks.CHECKS_DATA] = ("autograder/units/golden_cases.py", "autograder/fixtures/",
                                                  "autograder/units/network_cases.py", "reference/")


def read_settings(release: Release) -> None:
    release.settings = parse_settings(release.read(release_paths.RELEASE_SETTINGS))


def read_template(release: Release) -> None:
    """Parse the template; paste the generated passages into its markdown cells."""
    cells = parse_template(release.read(release_paths.NOTEBOOK_TEMPLATE), release_paths.NOTEBOOK_TEMPLATE)
    release.template = [
        replace(cell, source=expand_placeholders(cell.source, release_paths.NOTEBOOK_TEMPLATE, cell.line,
                                                 release.settings))
        if cell.kind == "markdown" else cell
        for cell in cells
    ]


def fill_generated_passages(release: Release) -> None:
    """Refill the generated blocks of the Markdown files that have them."""
    for path in release_paths.GENERATED_PASSAGE_FILES:
        release.committed[path] = fill_blocks(release.read(path), path, release.settings)
        release.sources[path] = (path, release_paths.GRADER_SOURCES)


def _namespace(sources: Dict[str, str], path_of: Callable[[str], str]) -> Namespace:
    """The shared namespace of the modules whose texts are `sources` (by path)."""
    siblings = [release_paths.module_name(m) for m in release_paths.MODULES]
    modules = {}
    for module in release_paths.MODULES:
        path = path_of(module)
        modules[release_paths.module_name(module)] = parse_module(sources[path], path, siblings)
    return Namespace.merge(modules)


def render_student_notebook(release: Release) -> None:
    """The template with the stubs' definitions: the committed student notebook."""
    notebook = render_notebook(release.template, _namespace(release.stubs, release_paths.stub_path),
                               release_paths.NOTEBOOK_TEMPLATE)
    release.committed[release_paths.STUDENT_NOTEBOOK] = notebook_text(notebook)
    release.sources[release_paths.STUDENT_NOTEBOOK] = (release_paths.NOTEBOOK_TEMPLATE, *release.references,
                                                       release_paths.GRADER_SOURCES)


def render_solution_notebook(release: Release) -> None:
    """The template with the reference's definitions: staff only, build output."""
    namespace = _namespace(release.references, release_paths.reference_path)
    notebook = render_notebook(release.template, namespace, release_paths.NOTEBOOK_TEMPLATE)
    release.build[release_paths.SOLUTION_NOTEBOOK] = notebook_text(notebook).encode("utf-8")


def package_release(release: Release) -> None:
    """Zip the student notebook, the stubs, the public checks and the shipped helper files."""
    notebook_name = Path(release_paths.STUDENT_NOTEBOOK).name
    members = {notebook_name: release.committed[release_paths.STUDENT_NOTEBOOK].encode("utf-8")}
    for path, stub in release.stubs.items():
        members[Path(path).name] = stub.encode("utf-8")
    for path in (public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA):
        members[Path(path).name] = release.committed[path].encode("utf-8")
    for path in release_paths.SHIPPED_FILES:
        text = strip_block_markers(release.committed[path]) if path in release.committed else release.read(path)
        members[Path(path).name] = text.encode("utf-8")
    release.build[release_paths.ARCHIVE] = build_archive(members, release_paths.ARCHIVE_FOLDER)


def check_for_leaks(release: Release) -> None:
    """No line of a solution region may be in the archive (as written)."""
    assert_no_leaks(read_archive(release.build[release_paths.ARCHIVE]), release.references)


def unshippable(release: Release) -> List[str]:
    """`member:line: what` for each placeholder or staff-only reference in the archive's texts
    (the stubs' header lines, notes for staff, excepted). The public checks are skipped: they are
    the grader's own modules, vendored and generated, and name its files by nature."""
    vendored = {Path(path).name for path in (public_checks.CHECKS_MODULE, public_checks.CHECKS_DATA)}
    texts = {name: data.decode("utf-8") for name, data in read_archive(release.build[release_paths.ARCHIVE]).items()
             if Path(name).name not in vendored}
    staff_notes = {header_line(release_paths.reference_path(m), release_paths.REGENERATE_COMMAND).strip()
                   for m in release_paths.MODULES}
    return [f"{name}:{line}: {what}" for name, line, what in find_unshippable(texts, staff_notes)]


STEPS: Tuple[Tuple[str, Callable[[Release], None]], ...] = (
    ("read the marked reference", read_reference),
    ("generate the student stubs", generate_stubs),
    ("generate the public checks", generate_public_checks),
    ("read the release settings", read_settings),
    ("read the notebook template", read_template),
    ("refill the generated passages", fill_generated_passages),
    ("render the student notebook", render_student_notebook),
    ("render the solution notebook", render_solution_notebook),
    ("package the student release", package_release),
    ("check the release for solution lines", check_for_leaks),
)


def run_pipeline(root: Path = release_paths.REPO_ROOT) -> Release:
    """Run every step in order, in memory; the first failing step raises."""
    release = Release(Path(root))
    for _, step in STEPS:
        step(release)
    return release


def drifted_files(release: Release) -> List[str]:
    """Committed generated files that differ from (or are missing next to)
    what the pipeline generates."""
    drifted = []
    for path, text in release.committed.items():
        file = release.root / path
        if not file.is_file() or file.read_bytes() != text.encode("utf-8"):
            drifted.append(path)
    return drifted


def drift_message(release: Release, path: str) -> str:
    """Why `path` fails the drift check, and the command that fixes it."""
    return (
        f"{path} differs from what the release pipeline generates from "
        f"{' + '.join(release.sources[path])}: regenerate it with `{release_paths.REGENERATE_COMMAND}` "
        "(generated files are never edited by hand)"
    )


def write_release(release: Release, out_dir: Path, build: bool = True) -> List[Path]:
    """Write the committed files into the repository and (with `build`) the build
    outputs into `out_dir`; return the paths written."""
    written = []
    for path, text in release.committed.items():
        file = release.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(text.encode("utf-8"))
        written.append(file)
    for path, data in release.build.items() if build else ():
        file = out_dir / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        written.append(file)
    return written
