"""One unit cannot change another's verdict: torch's global state is restored around each unit, and
the unit that left it changed fails, naming the setting."""
import pytest

from distributions import run_refsuite, write_distribution

LEAKY = '''
    import torch
    from refsuite import UnitGroup

    units = UnitGroup()

    @units.unit("tensors.aaa_leaks.default_dtype")
    def default_dtype(ctx):
        """Sets float64 as the default dtype and leaves it so."""
        torch.set_default_dtype(torch.float64)

    @units.unit("tensors.aaa_leaks.grad_mode")
    def grad_mode(ctx):
        """Turns autograd off and leaves it off."""
        torch.set_grad_enabled(False)

    @units.unit("tensors.aaa_leaks.threads")
    def threads(ctx):
        """Changes the intra-op thread count and leaves it changed."""
        torch.set_num_threads(max(1, torch.get_num_threads() - 1) if torch.get_num_threads() > 1 else 2)

    @units.unit("tensors.aaa_leaks.seed_only")
    def seed_only(ctx):
        """Seeds and draws from the global generator: normal use, restored and not judged."""
        torch.manual_seed(123)
        torch.rand(3)
'''


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaky")
    site = write_distribution(tmp / "site", "refsuite-leaky", {"refsuite_leaky": LEAKY},
                              {"refsuite.units": {"leaky": "refsuite_leaky:units"}})
    # the leaks run first (ids sort before the built-ins); then units the leaks would break
    return run_refsuite("run", "-k", "aaa_leaks or tensors.creation or models.gradients.conv_and_linear or "
                        "models.lenet", site=site, cwd=tmp)


@pytest.mark.parametrize("unit_id, said", [
    ("tensors.aaa_leaks.default_dtype", "default dtype: torch.float32 -> torch.float64"),
    ("tensors.aaa_leaks.grad_mode", "grad mode: True -> False"),
    ("tensors.aaa_leaks.threads", "intra-op threads: "),
])
def test_a_unit_that_leaks_global_state_fails_by_name(leaky_run, unit_id, said):
    line = next((ln for ln in leaky_run.stdout.splitlines() if ln.startswith(f"  FAILED {unit_id}[cpu]: ")), "")
    assert "left torch's global state changed" in line and said in line, leaky_run.stdout[-4000:]


def test_the_units_after_a_leak_see_a_clean_state(leaky_run):
    out = leaky_run.stdout
    assert leaky_run.returncode == 1, out[-3000:]
    assert "seed_only" not in "".join(ln for ln in out.splitlines() if "FAILED" in ln), out[-3000:]
    failed = [ln for ln in out.splitlines() if ln.startswith("  FAILED ")]
    assert len(failed) == 3 and all("aaa_leaks" in ln for ln in failed), out[-3000:]
    assert leaky_run.stderr == "", leaky_run.stderr[-2000:]


def test_the_kit_fails_a_leaking_unit_and_restores_the_state(unit, plugins, monkeypatch):
    import torch

    from refsuite.core.registry import Unit

    def leaks(ctx):
        torch.set_default_dtype(torch.float64)

    leaky = Unit(id="tensors.kit.leaks_default_dtype", check=leaks, summary="leaks")
    monkeypatch.setattr(plugins.units, "get", lambda unit_id: leaky)
    monkeypatch.setattr(unit, "unmet", lambda unit_id: None)
    assert "default dtype: torch.float32 -> torch.float64" in unit.fails("tensors.kit.leaks_default_dtype")
    assert torch.get_default_dtype() == torch.float32
