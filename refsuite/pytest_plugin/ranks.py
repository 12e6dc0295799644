"""Runs launched by torchrun: every rank runs the units; rank 0 reports for all of them.

Each rank joins the launch's process group before the first unit (the distributed units use it),
with the run's unit time limit as the group's timeout, so a collective that hangs fails the unit
that called it. At the end each other rank hands its failures to rank 0 through the rendezvous
store; rank 0 marks them in its rows (and so in its record), names the ranks in its summary and
fails the run. Only rank 0 writes the record. Outside torchrun these hooks do nothing.
"""
from __future__ import annotations

import dataclasses

import pytest

from ..core import ranks, timeouts
from .state import STATE

#: set on the config by pytest_sessionstart when the run is one rank of a launch
WORLD = pytest.StashKey["_Launch"]()


@dataclasses.dataclass
class _Launch:
    world: ranks.World
    backend: str
    timeout_s: float
    #: rank 0: what other ranks failed, as lines for the summary
    elsewhere: list = dataclasses.field(default_factory=list)
    silent: list = dataclasses.field(default_factory=list)


def _state(config: pytest.Config):
    return config.stash.get(STATE, None)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = _state(session.config)
    world = ranks.from_env()
    if state is None or world is None or not state.settings.devices or hasattr(session.config, "workerinput"):
        return
    timeout_s = state.settings.unit_timeout or timeouts.DEFAULT_S
    backend = ranks.join(world, state.settings.devices[0].type, timeout_s)
    session.config.stash[WORLD] = _Launch(world, backend, timeout_s)
    if not world.leader:  # one record per launch: rank 0's, which holds every rank's failures
        state.settings = dataclasses.replace(state.settings, record=None, repro_dir=None)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session):
    # around refsuite's own: the rows are complete before its record is written and summary printed
    launch, state = session.config.stash.get(WORLD, None), _state(session.config)
    if launch is not None and state is not None:
        (_lead if launch.world.leader else _follow)(session, launch, state)
    return (yield)


def _follow(session: pytest.Session, launch: _Launch, state) -> None:
    ranks.hand_over(launch.world, state.results)
    if session.exitstatus == pytest.ExitCode.TESTS_FAILED:
        # handed to rank 0, whose verdict is the launch's: torchrun stops every rank as soon as
        # one exits non-zero, which could stop rank 0 before it reports
        session.exitstatus = pytest.ExitCode.OK


def _lead(session: pytest.Session, launch: _Launch, state) -> None:
    found, launch.silent = ranks.gather(launch.world, launch.timeout_s + 60)
    launch.elsewhere = ranks.fold(state.results, found)
    if (launch.elsewhere or launch.silent) and session.exitstatus in (pytest.ExitCode.OK,
                                                                      pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    launch = terminalreporter.config.stash.get(WORLD, None)
    if launch is None:
        return
    tr = terminalreporter
    if not launch.world.leader:
        tr.write_line(f"refsuite: rank {launch.world.rank} of {launch.world.size}: outcomes handed to rank 0, "
                      "which reports for every rank")
        return
    tr.write_sep("=", f"refsuite: {launch.world.size} ranks ({launch.backend}, launched by torchrun)")
    for line in launch.elsewhere:
        tr.write_line(f"FAILED on another rank: {line}", red=True)
    for rank in launch.silent:
        tr.write_line(f"rank {rank} handed over no outcomes within {launch.timeout_s + 60:g} s "
                      "(it crashed or is still running): its units are not known to have passed", red=True)
    if not launch.elsewhere and not launch.silent:
        others = launch.world.size - 1
        tr.write_line(f"the other {others} rank{'s' * (others > 1)} failed nothing" if others else "a world of one rank",
                      green=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(WORLD, None) is not None:
        ranks.leave()
