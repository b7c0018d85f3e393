"""Command line of the release pipeline.

    python -m data_scripts.release                 regenerate student/ stubs and the notebook,
                                                   build the solution notebook and the archive
    python -m data_scripts.release --check         fail if committed generated files are stale
    python -m data_scripts.release --out DIR       build outputs into DIR (default build/release)
    python -m data_scripts.release --root DIR      work on another checkout (default: this one)
    python -m data_scripts.release --draft         build the archive even with placeholders left (not for students)
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import release_paths
from .pipeline import drift_message, drifted_files, run_pipeline, unshippable, write_release
from .release_errors import ReleaseError

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_scripts.release",
        description="Generate the student stubs, the notebooks and the student release from reference/.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory only; exit 1 if committed student/ or notebooks/ files differ",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"where the build outputs go (default: ROOT/{release_paths.DEFAULT_OUT_DIR})",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=release_paths.REPO_ROOT,
        help="repository root to read and write (default: this checkout)",
    )
    parser.add_argument(
        "--draft",
        action="store_true",
        help=f"build even if the release still has placeholders (set them in {release_paths.RELEASE_SETTINGS}) "
        "or names staff-only tools; such a build is not for students",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out_dir = (args.out or root / release_paths.DEFAULT_OUT_DIR).resolve()

    try:
        release = run_pipeline(root)
    except ReleaseError as error:
        print(f"release: error: {error}", file=sys.stderr)
        return EXIT_ERROR

    if args.check:
        drifted = drifted_files(release)
        for path in drifted:
            print(f"release: {drift_message(release, path)}", file=sys.stderr)
        if drifted:
            return EXIT_DRIFT
        print(f"release: {len(release.committed)} generated files are up to date; no solution line in the release")
        return EXIT_OK

    problems = unshippable(release)
    for problem in problems:
        print(f"release: {'warning' if args.draft else 'error'}: {problem}", file=sys.stderr)
    build = args.draft or not problems
    for path in write_release(release, out_dir, build=build):
        print(f"wrote {_shown(path, root)}")
    if not build:
        print(f"release: the student release was not built: it must not hold these (set the values in "
              f"{release_paths.RELEASE_SETTINGS}; --draft builds it anyway, for trying it out)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
