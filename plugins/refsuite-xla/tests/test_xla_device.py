"""refsuite-xla's device: its availability and reasons without torch_xla (runs anywhere), and the
evidence behind each capability it declares lacking (needs torch_xla: a visible skip elsewhere)."""
from __future__ import annotations

import importlib
import importlib.util

import pytest
import torch

from refsuite import Device, Requires
from refsuite_xla import XLA


@pytest.fixture
def no_torch_xla(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.split(".")[0] == "torch_xla" else find_spec(name, *a))


def test_without_torch_xla_there_is_no_device_and_the_reason_says_why(no_torch_xla):
    assert XLA.device_count() == 0
    assert "torch_xla is not installed" in XLA.unavailable_reason()
    assert XLA.devices() == []


def test_without_torch_xla_nothing_is_timed(no_torch_xla):
    assert "not installed" in XLA.synchronize_problem()


def test_a_torch_xla_that_fails_to_import_is_named(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    real = importlib.import_module

    def broken(name, *a):
        if name.startswith("torch_xla"):
            raise ImportError("undefined symbol: _ZN5torch3jit")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert XLA.device_count() == 0
    assert "torch_xla failed to import: ImportError: undefined symbol" in XLA.unavailable_reason()


def test_units_needing_what_xla_lacks_are_skipped_with_the_evidence():
    reason = Requires(capabilities=frozenset({"values", "seeding"})).unmet(Device(XLA, 0), None)
    assert reason.startswith("device xla:0 lacks seeding (seeding: torch.manual_seed does not reseed")


def test_hypothesis_is_bounded_on_xla():
    assert XLA.max_examples is not None and XLA.max_examples <= 10  # the ci profile draws 25


# --- with torch_xla: the declared behaviour is the backend's --------------------------------

def _xla():
    if importlib.util.find_spec("torch_xla") is None:
        pytest.skip("torch_xla is not installed (tox -e xla installs it)")
    if XLA.device_count() == 0:
        pytest.skip(f"no xla device: {XLA.unavailable_reason()}")
    return torch.device("xla")


def test_manual_seed_does_not_reseed_xla_so_seeding_is_declared_lacking():
    dev = _xla()
    torch.manual_seed(5)
    a = torch.rand(8, device=dev).cpu()
    torch.manual_seed(5)
    b = torch.rand(8, device=dev).cpu()
    # if this fails, torch_xla now follows torch.manual_seed: declare 'seeding' and let the unit run
    assert not torch.equal(a, b), "torch.manual_seed now repeats xla's draws"
    with pytest.raises(RuntimeError, match="register a module"):
        with torch.random.fork_rng(devices=[dev], device_type="xla"):
            pass


def test_flush_runs_the_recorded_graph_and_a_no_op_flush_is_caught(monkeypatch):
    dev = _xla()
    import torch_xla

    def pending_after_flush() -> bool:
        x = torch.ones(4, device=dev) * 3
        XLA.flush(dev)
        # a tensor whose graph ran is device data alone; one still recorded shows its operations
        return "aten::mul" in torch_xla._XLAC._get_xla_tensors_text([x])

    assert not pending_after_flush()
    monkeypatch.setattr(torch_xla, "sync", lambda *a, **k: None)  # planted: a flush that cuts nothing
    assert pending_after_flush()


def test_devices_come_from_the_pjrt_runtime():
    _xla()
    import torch_xla.runtime as xr
    assert XLA.device_count() == xr.addressable_runtime_device_count()
    assert XLA.synchronize_problem() is None
    assert [d.label for d in XLA.devices()][0] == "xla:0"
