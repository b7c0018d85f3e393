"""Read a GitHub Actions workflow's jobs and steps without a YAML parser (PyYAML is optional).

Understands the layout of this repository's own templates only: jobs at two
spaces under ``jobs:``, ``- name:`` of a step at six, its keys at eight, ``run: |``
blocks and ``env``/``with`` entries at ten.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path


def workflow(path: Path) -> dict[str, dict[str, dict]]:
    """Job id → step name → its ``uses``/``if``/``id``/``working-directory``/``run`` values, ``env`` and ``with``."""
    lines = path.read_text().splitlines()
    jobs: dict[str, dict[str, dict]] = {}
    job = step = section = None
    in_jobs = False
    index = 0
    while index < len(lines):
        line = lines[index]
        job_match = re.match(r"^  ([\w-]+):$", line)
        step_match = re.match(r"^      - name: (.+)$", line)
        key_match = re.match(r"^        ([\w-]+): ?(.*)$", line)
        entry_match = re.match(r"^          ([\w-]+): (.*)$", line)
        if line and not line.startswith((" ", "#")):
            job = step = None
            in_jobs = line == "jobs:"
        elif job_match and in_jobs:
            job, step = jobs.setdefault(job_match.group(1), {}), None
        elif step_match and job is not None:
            step = job.setdefault(step_match.group(1), {"env": {}, "with": {}})
        elif key_match and step is not None:
            section, value = key_match.groups()
            if value == "|":
                block = []
                while index + 1 < len(lines) and (lines[index + 1].startswith(" " * 10) or not lines[index + 1]):
                    index += 1
                    block.append(lines[index])
                value = textwrap.dedent("\n".join(block)).rstrip("\n") + "\n"
            if section not in ("env", "with"):
                step[section] = value
        elif entry_match and step is not None and section in ("env", "with"):
            step[section][entry_match.group(1)] = entry_match.group(2)
        index += 1
    return jobs


def read_steps(template: Path) -> dict[str, dict[str, str]]:
    """Step name → its values across all jobs (names are unique), ``env`` entries as ``env:NAME``."""
    return {name: {**{key: value for key, value in step.items() if key not in ("env", "with")},
                   **{f"env:{key}": value for key, value in step["env"].items()}}
            for steps in workflow(Path(template)).values() for name, step in steps.items()}
