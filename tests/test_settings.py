"""One run's settings, from `refsuite run`'s arguments as from pytest's options; and the one way a
unit's context is made, which honours the profile and the device's cap on examples."""
import argparse
import dataclasses

import pytest

from refsuite import UsageError
from refsuite.cli import run
from refsuite.core.context import make_context
from refsuite.core.devices import Device, DeviceType, resolve_devices
from refsuite.settings import RunSettings, from_namespace


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run.configure(parser)
    return parser.parse_args(list(argv))


def test_the_cli_arguments_build_the_settings_pytest_would(plugins, tmp_path):
    settings = from_namespace(_args("--profile", "dev", "--strict", "--unit-timeout", "5", "-k", "seed",
                                    "--record", str(tmp_path / "r.json")), plugins)
    assert isinstance(settings, RunSettings)
    assert [d.label for d in settings.devices] == ["cpu"] and settings.profile == "dev"
    assert settings.strict and settings.unit_timeout == 5.0 and settings.keyword == "seed"
    assert settings.record == str(tmp_path / "r.json") and settings.datasets.name == "synthetic-cifar10"
    said = settings.describe()
    assert said["hypothesis_profile"] == "dev" and said["max_examples"] == 10 and said["strict"] is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.profile = "ci"


@pytest.mark.parametrize(("argv", "said"), [
    (("--unit-timeout", "-1"), "--unit-timeout '-1'"),
    (("--reproduce", "nope"), "--reproduce 'nope'"),
    (("--device", "nosuch"), "nosuch"),
])
def test_a_bad_setting_is_a_usage_error(plugins, argv, said):
    with pytest.raises(UsageError, match=said):
        from_namespace(_args(*argv), plugins)


def test_node_ids_choose_items_and_name_what_is_not_there(plugins):
    settings = from_namespace(_args(), plugins, node_ids=["tensors.seed.golden"])
    assert settings.chosen == {"tensors.seed.golden[cpu]"}
    with pytest.raises(UsageError, match="no unit 'tensors.nosuch'"):
        from_namespace(_args(), plugins, node_ids=["tensors.nosuch"])


def test_a_context_honours_the_profile_and_the_devices_cap(plugins, tmp_path):
    (cpu,) = resolve_devices(["cpu"], plugins.devices)
    assert make_context(cpu, tmp_path).hypothesis.max_examples == 25
    assert make_context(cpu, tmp_path, profile="dev").hypothesis.max_examples == 10
    capped = Device(DeviceType("cpu", max_examples=3), None)
    assert make_context(capped, tmp_path).hypothesis.max_examples == 3


def test_the_unit_fixture_makes_its_context_the_same_way(unit):
    assert unit.ctx.hypothesis.max_examples == 25 and unit.ctx.dataset_name == "synthetic-cifar10"
    assert unit.ctx.hypothesis.derandomize


class _Said(Exception):
    pass


def test_a_waiting_line_goes_where_the_context_says(tmp_path, monkeypatch):
    from filelock import FileLock

    from refsuite.core import locks

    said = []

    def report(line):
        said.append(line)
        raise _Said  # one line is enough: stop waiting

    monkeypatch.setattr(locks, "FIRST_NOTICE_S", 0.1)
    with FileLock(str(tmp_path / "x.lock")):
        with locks.reporting(report), pytest.raises(_Said):
            with locks.waiting_lock(tmp_path / "x.lock", "the test"):
                pass
        with pytest.raises(_Said):  # named by the caller, a reporter wins over the block's
            with locks.reporting(print), locks.waiting_lock(tmp_path / "x.lock", "the test", report=report):
                pass
    assert len(said) == 2 and said[0].startswith("refsuite: waiting 0 s for the test"), said
