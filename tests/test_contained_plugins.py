"""A plugin's import can raise anything, SystemExit and KeyboardInterrupt included, and is still a
named, failing provider: the command neither exits quietly nor says "interrupted"."""
import pytest

from distributions import run_refsuite, write_distribution

RAISES = {
    "exits": "raise SystemExit(0)\n",
    "interrupts": "raise KeyboardInterrupt\n",
}


@pytest.mark.parametrize("kind", ["exits", pytest.param("interrupts", marks=pytest.mark.slow)])
def test_a_plugin_that_exits_or_interrupts_on_import_is_a_failing_provider(kind, tmp_path):
    site = write_distribution(tmp_path / "site", f"refsuite-{kind}", {f"plugin_{kind}": RAISES[kind]},
                              {"refsuite.units": {kind: f"plugin_{kind}:units"}})
    run = run_refsuite("run", "-k", "tensors.seed.golden", site=site, cwd=tmp_path)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"refsuite: FAILED refsuite.units:{kind} (refsuite-{kind} 1.0)" in run.stdout, run.stdout[-3000:]
    assert "1 passed" in run.stdout and "interrupted" not in run.stdout + run.stderr
    listed = run_refsuite("list", "tensors.seed.*", site=site, cwd=tmp_path)
    assert listed.returncode == 1 and "tensors.seed.golden" in listed.stdout, listed.stdout[-2000:] + listed.stderr
    assert f"refsuite list: error: plugin refsuite.units:{kind} (refsuite-{kind} 1.0) failed to load" in listed.stderr
    shown = run_refsuite("show-batch", "--out", str(tmp_path / "g.png"), site=site, cwd=tmp_path)
    assert shown.returncode == 1 and f"plugin refsuite.units:{kind}" in shown.stderr, shown.stderr[-2000:]
    assert (tmp_path / "g.png").exists(), "the command's own work is done and kept"
    doctor = run_refsuite("doctor", site=site, cwd=tmp_path)
    assert doctor.returncode == 1 and f"refsuite.units:{kind}" in doctor.stdout + doctor.stderr


HOOKS = '''
    import sys

    from refsuite import UnitGroup
    from refsuite.datasets.synthetic import SyntheticCIFAR10

    units = UnitGroup()

    @units.unit("tensors.aaa_hooks.interrupts_itself")
    def interrupts_itself(ctx):
        """Raises KeyboardInterrupt with no signal in sight."""
        raise KeyboardInterrupt

    class Exits(SyntheticCIFAR10):
        name = "exits"

        def load(self, root=None, download=False):
            sys.exit(0)

    EXITS = Exits()
'''


def test_plugin_code_that_exits_or_interrupts_at_run_time_is_named_and_contained(tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-hooks", {"plugin_hooks": HOOKS},
                              {"refsuite.units": {"hooks": "plugin_hooks:units"},
                               "refsuite.datasets": {"exits": "plugin_hooks:EXITS"}})
    run = run_refsuite("run", "-k", "aaa_hooks or tensors.seed.golden", site=site, cwd=tmp_path)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "FAILED tensors.aaa_hooks.interrupts_itself[cpu]: AssertionError: tensors.aaa_hooks.interrupts_itself " \
           "raised KeyboardInterrupt itself" in run.stdout, run.stdout[-3000:]
    assert "1 failed, 1 passed" in run.stdout
    shown = run_refsuite("show-batch", "--out", str(tmp_path / "g.png"), "--dataset", "exits", site=site, cwd=tmp_path)
    assert shown.returncode == 1, shown.stdout[-2000:] + shown.stderr[-2000:]
    assert "refsuite show-batch: error: plugin refsuite.units:hooks (refsuite-hooks 1.0) called sys.exit(0)" \
        in shown.stderr or "plugin refsuite.datasets:exits (refsuite-hooks 1.0) called sys.exit(0)" in shown.stderr, \
        shown.stderr


DEVICE_EXITS = '''
    import sys

    from refsuite import DeviceType


    class Exits(DeviceType):
        def device_count(self):
            sys.exit(0)


    HPU = Exits("hpu")
'''


@pytest.mark.slow
def test_a_device_hook_that_exits_while_the_run_is_set_up_is_named(tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-hpu", {"plugin_hpu": DEVICE_EXITS},
                              {"refsuite.devices": {"hpu": "plugin_hpu:HPU"}})
    run = run_refsuite("run", "--device", "hpu", site=site, cwd=tmp_path)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "refsuite: plugin refsuite.devices:hpu (refsuite-hpu 1.0) called sys.exit(0)" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout + run.stderr
    # elsewhere the type is only unavailable, and says why
    other = run_refsuite("run", "-k", "tensors.seed.golden", site=site, cwd=tmp_path)
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-2000:]
    assert "hpu (not available: its is_available() raised SystemExit: 0)" in other.stdout
    doctor = run_refsuite("doctor", site=site, cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stdout[-3000:] + doctor.stderr[-2000:]
    assert "hpu    not available  its is_available() raised SystemExit: 0" in doctor.stdout
    assert "datasets" in doctor.stdout.lower(), "the rest of the report is still printed"
