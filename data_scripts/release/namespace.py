"""One namespace for all course modules, as the notebook defines them.

The notebook runs the modules' code in a single namespace, so their names
must not clash: a name defined in two modules must have the same source in
both (e.g. the `TensorDict` alias), and an imported name must come from the
same place everywhere. Their imports become one merged, sorted import block.
"""

import sys
from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

from .definitions import Definition, ImportedName, ModuleDefinitions
from .release_errors import ReleaseError, SourceError

# Longest line of the generated import block before a `from` import wraps.
MAX_IMPORT_LINE = 79


@dataclass(frozen=True)
class Namespace:
    """Definitions of every course module, by module import name."""

    modules: Mapping[str, ModuleDefinitions]

    @classmethod
    def merge(cls, modules: Mapping[str, ModuleDefinitions]) -> "Namespace":
        """Check that `modules` can share one namespace, and return it.

        Raises:
            SourceError: for a name defined differently in two modules, or
                bound both by a definition and by an import.
            ReleaseError: for an import alias bound to two different things.
        """
        seen: Dict[str, Definition] = {}
        for module in modules.values():
            for name, definition in module.definitions.items():
                other = seen.setdefault(name, definition)
                if other.source != definition.source:
                    raise SourceError(
                        definition.path,
                        definition.line,
                        f"{name!r} is also defined, differently, at {other.where}: "
                        "the notebook has one namespace for all modules",
                    )
        bound = _imports_by_alias(modules.values())
        for alias in bound:
            if alias in seen:
                definition = seen[alias]
                raise SourceError(definition.path, definition.line, f"{alias!r} is also bound by an import")
        return cls(dict(modules))

    def definition(self, module: str, name: str) -> Definition:
        """`module`'s definition of `name`; KeyError if there is none."""
        return self.modules[module].definitions[name]

    def names(self) -> Dict[str, Definition]:
        """Every defined name once (a name shared by modules: its first definition)."""
        names: Dict[str, Definition] = {}
        for module in self.modules.values():
            for name, definition in module.definitions.items():
                names.setdefault(name, definition)
        return names

    def import_block(self, modules: List[str]) -> str:
        """The merged imports of `modules`: standard library first, then the
        rest, `import x` before `from x import y`, each sorted (as isort)."""
        imported = _imports_by_alias(self.modules[m] for m in modules)
        plain: Dict[Tuple[str, str], str] = {}
        from_imports: Dict[str, Dict[str, str]] = {}
        for alias, item in imported.items():
            if item.name is None:
                spelled = item.module if alias == item.module.split(".")[0] else f"{item.module} as {alias}"
                plain[(item.module, alias)] = f"import {spelled}"
            else:
                spelled = item.name if alias == item.name else f"{item.name} as {alias}"
                from_imports.setdefault(item.module, {})[item.name + " " + alias] = spelled
        sections: Dict[bool, List[str]] = {True: [], False: []}
        for (module, _), line in sorted(plain.items()):
            sections[_is_stdlib(module)].append(line)
        for module, names in sorted(from_imports.items()):
            spelled = [names[key] for key in sorted(names)]
            sections[_is_stdlib(module)].append(_from_import(module, spelled))
        return "\n\n".join("\n".join(lines) for lines in (sections[True], sections[False]) if lines)


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def _from_import(module: str, names: List[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= MAX_IMPORT_LINE:
        return line
    body = "".join(f"    {name},\n" for name in names)
    return f"from {module} import (\n{body})"


def _imports_by_alias(modules) -> Dict[str, ImportedName]:
    """Every name bound by the modules' imports; one source per name."""
    bound: Dict[str, ImportedName] = {}
    for module in modules:
        for item in module.imports:
            other = bound.setdefault(item.alias, item)
            if (other.module, other.name) != (item.module, item.name):
                raise ReleaseError(
                    f"{module.path}: {item.alias!r} is imported from two places "
                    f"({other.module} and {item.module}): the notebook has one namespace"
                )
    return bound
