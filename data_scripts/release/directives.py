"""Template directives: code-cell lines replaced by code of the course modules.

    # @imports common, two_stage_detector
        -> the merged import block of those modules (see `namespace.py`)
    # @definitions two_stage_detector: iou, rcnn_match_anchors_to_gt
        -> the exact source of those definitions, in the order listed

A directive is a whole line starting at column 0. Every name a module defines
must be listed exactly once across the template, so the notebook holds every
definition of the modules exactly once. Any other line starting with `# @` is
an error, so a typo cannot leave a directive unexpanded.
"""

import re
from typing import Dict, List, Set

from .definitions import Definition
from .namespace import Namespace
from .release_errors import SourceError

DIRECTIVE_PREFIX = "# @"
_IMPORTS = re.compile(r"^# @imports (\w+(?:, \w+)*)$")
_DEFINITIONS = re.compile(r"^# @definitions (\w+): (\w+(?:, \w+)*)$")

# Blank lines between two definitions that are not adjacent in their module.
_GAP_AFTER_BLOCK = "\n\n\n"  # after a function or class (PEP 8)
_GAP_AFTER_STATEMENT = "\n\n"


class DirectiveExpander:
    """Expands the directives of template cells from one namespace (stubs or
    reference) and tracks which definitions were emitted, and where."""

    def __init__(self, namespace: Namespace, template_path: str):
        self.namespace = namespace
        self.template_path = template_path
        self.emitted: Dict[str, int] = {}  # name -> template line of its directive
        self.imported: Set[str] = set()

    def expand_cell(self, source: str, first_line: int) -> str:
        """`source` of a code cell starting at template line `first_line`, expanded."""
        out: List[str] = []
        for offset, line in enumerate(source.split("\n")):
            number = first_line + offset
            if not line.startswith(DIRECTIVE_PREFIX):
                out.append(line)
            elif _IMPORTS.match(line):
                out.append(self._imports(_IMPORTS.match(line).group(1).split(", "), number))
            elif _DEFINITIONS.match(line):
                module, names = _DEFINITIONS.match(line).groups()
                out.append(self._definitions(module, names.split(", "), number))
            else:
                raise SourceError(
                    self.template_path,
                    number,
                    f"unknown directive {line!r}: use '# @imports a, b' or '# @definitions module: name, ...'",
                )
        return "\n".join(out)

    def check_complete(self) -> None:
        """Raise unless every module was imported and every definition emitted."""
        missing_imports = sorted(set(self.namespace.modules) - self.imported)
        missing = [name for name in self.namespace.names() if name not in self.emitted]
        if missing_imports or missing:
            details = []
            if missing_imports:
                details.append(f"no '# @imports' for {', '.join(missing_imports)}")
            if missing:
                where = ", ".join(f"{n} ({self.namespace.names()[n].where})" for n in missing)
                details.append(f"not in any '# @definitions': {where}")
            raise SourceError(self.template_path, None, "; ".join(details))

    def _module(self, module: str, line: int):
        if module not in self.namespace.modules:
            known = ", ".join(self.namespace.modules)
            raise SourceError(self.template_path, line, f"unknown module {module!r} (known: {known})")
        return self.namespace.modules[module]

    def _imports(self, modules: List[str], line: int) -> str:
        for module in modules:
            self._module(module, line)
            if module in self.imported:
                raise SourceError(self.template_path, line, f"imports of {module!r} are already emitted")
            self.imported.add(module)
        return self.namespace.import_block(modules)

    def _definitions(self, module: str, names: List[str], line: int) -> str:
        definitions = self._module(module, line).definitions
        chosen: List[Definition] = []
        for name in names:
            if name not in definitions:
                raise SourceError(self.template_path, line, f"{module} defines no top-level {name!r}")
            if name in self.emitted:
                raise SourceError(
                    self.template_path, line, f"{name!r} is already emitted by the directive at line {self.emitted[name]}"
                )
            self.emitted[name] = line
            chosen.append(definitions[name])
        return _join(chosen)


def _join(definitions: List[Definition]) -> str:
    """Sources of `definitions`: adjacent ones keep their module's spacing."""
    text = definitions[0].source
    for previous, definition in zip(definitions, definitions[1:]):
        text += _gap(previous, definition) + definition.source
    return text


def _gap(previous: Definition, definition: Definition) -> str:
    if previous.path == definition.path and definition.index == previous.index + 1:
        return "\n" * (definition.line - previous.end_line)
    return _GAP_AFTER_BLOCK if previous.is_block else _GAP_AFTER_STATEMENT
