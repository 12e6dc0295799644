"""What the plugin's modules share: the run's settings and state in pytest's stash."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import pytest

from ..settings import NODE_ROOT

if TYPE_CHECKING:
    from ..settings import RunSettings


@dataclasses.dataclass
class RunState:
    """What changes while the units run; everything else is in ``settings`` and only read."""

    settings: RunSettings
    #: a line to the user now, past pytest's output capture (a unit waiting on the dataset's lock)
    report: Callable[[str], None]
    #: whether this session installed refsuite's SIGINT handler (so it uninstalls it)
    owns_interrupts: bool = False
    #: one row per unit × device outcome; on xdist the controller receives every worker's reports
    results: list = dataclasses.field(default_factory=list)


STATE = pytest.StashKey[RunState]()
#: set apart from the state: a run that collects no units may still share the machine out
BUDGET = pytest.StashKey["Budget"]()

__all__ = ["BUDGET", "NODE_ROOT", "STATE", "RunState"]
