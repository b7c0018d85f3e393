"""Read a GitHub Actions workflow's steps without a YAML parser (PyYAML is optional).

Understands the layout of this repository's own templates only: jobs at two
spaces, ``- name:`` of a step at six, its keys at eight, ``run: |`` blocks at
ten.  Step names are unique across jobs.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path


def read_steps(template: Path) -> dict[str, dict[str, str]]:
    """Step name → its ``uses``/``run``/``if``/``working-directory`` values, plus ``env`` lines as ``env:NAME``."""
    lines = Path(template).read_text().splitlines()
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    in_env = False
    index = 0
    while index < len(lines):
        line = lines[index]
        step = re.match(r"^ {6}- name: (.+)$", line)
        key = re.match(r"^ {8}(uses|if|working-directory|run|env): ?(.*)$", line)
        env_line = re.match(r"^ {10}([A-Z_][A-Z0-9_]*): (.*)$", line)
        if step:
            current, in_env = found.setdefault(step.group(1), {}), False
        elif key and current is not None:
            name, value = key.groups()
            in_env = name == "env"
            if value == "|":
                block = []
                while index + 1 < len(lines) and (lines[index + 1].startswith(" " * 10) or not lines[index + 1]):
                    index += 1
                    block.append(lines[index])
                value = textwrap.dedent("\n".join(block)) + "\n"
            current[name] = value
        elif env_line and in_env and current is not None:
            current[f"env:{env_line.group(1)}"] = env_line.group(2)
        index += 1
    return found
