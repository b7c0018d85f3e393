"""Grading stages: groups of graded tests the command line can select.

A graded test belongs to the stage named by ``@pytest.mark.stage(name)``,
``DEFAULT_STAGE`` without the marker.  ``python -m autograder grade`` runs
every stage, ``--units-only`` only those with ``units=True``.  To add the
notebook stage: append ``Stage("notebook", "...", units=False)`` here and mark
its tests ``@pytest.mark.stage("notebook")``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    units: bool  # selected by --units-only


STAGES = (
    Stage("units", "each graded definition, called in the sandbox on small inputs", units=True),
    Stage("notebook", "the notebook trains headless in the sandbox; its loss curve and mAP are judged", units=False),
)
DEFAULT_STAGE = "units"
STAGE_NAMES = tuple(stage.name for stage in STAGES)
UNIT_STAGE_NAMES = tuple(stage.name for stage in STAGES if stage.units)
