"""The grader's map answers "which folder?" for every module: ``autograder/README.md`` names each
role package and each module in it, ``docs/architecture.md`` each role package and top-level module.

A module added, renamed or moved without its line in the docs fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
GRADER = REPOSITORY / "autograder"
README = (GRADER / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (REPOSITORY / "docs" / "architecture.md").read_text(encoding="utf-8")
NOT_IN_THE_MAP = ("__init__", "__main__", "conftest")  # the graded suite appears as test_*.py, conftest.py


def role_packages() -> list[str]:
    return sorted(path.name for path in GRADER.iterdir() if (path / "__init__.py").is_file())


def top_level_modules() -> list[str]:
    return sorted(path.stem for path in GRADER.glob("*.py")
                  if path.stem not in NOT_IN_THE_MAP and not path.stem.startswith("test_"))


def readme_map() -> str:
    """The tree under ``## Map: which folder?``."""
    found = re.search(r"## Map: which folder\?.*?```\n(.*?)```", README, re.DOTALL)
    assert found, "autograder/README.md has a '## Map: which folder?' section with a tree"
    return found.group(1)


def readme_row(package: str) -> str:
    """The README table row of ``package``: ``| `package/` | modules |``."""
    found = re.search(rf"^\| `{package}/` \|(.*)$", README, re.MULTILINE)
    assert found, f"autograder/README.md's package table has no row for {package}/"
    return found.group(1)


def test_the_grader_has_role_packages_and_top_level_modules_to_check():
    assert len(role_packages()) >= 5 and "grading_run" in top_level_modules()


@pytest.mark.parametrize("package", role_packages())
def test_readme_names_every_module_of_each_role_package(package):
    row = readme_row(package)
    missing = [path.stem for path in sorted((GRADER / package).glob("*.py"))
               if path.stem != "__init__" and f"`{path.stem}`" not in row]
    assert not missing, f"autograder/README.md, row {package}/: add {', '.join(missing)}"


def test_readme_map_names_every_package_and_top_level_module():
    tree = readme_map()
    missing = [f"{package}/" for package in role_packages() if f"{package}/" not in tree]
    missing += [f"{module}.py" for module in top_level_modules() if not re.search(rf"\b{module}\.py\b", tree)]
    assert not missing, f"autograder/README.md's map: add {', '.join(missing)}"


def test_architecture_names_every_package_and_top_level_module():
    missing = [f"{package}/" for package in role_packages() if f"{package}/" not in ARCHITECTURE]
    missing += [module for module in top_level_modules() if not re.search(rf"\b{module}\b", ARCHITECTURE)]
    assert not missing, f"docs/architecture.md: add {', '.join(missing)}"
