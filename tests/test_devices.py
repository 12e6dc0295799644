import pytest
import torch

from refsuite import UsageError
from refsuite.core.devices import CPU, CUDA, MPS, XPU, DeviceType, GenericDeviceType, resolve_devices

TYPES = {"cpu": CPU, "cuda": CUDA, "mps": MPS, "xpu": XPU}


class FakeAccelerator(DeviceType):
    """An accelerator type with a fixed device count, to test resolution without hardware."""

    def __init__(self, name, count):
        super().__init__(name)
        self.count = count

    def device_count(self):
        return self.count


def test_default_is_cpu():
    assert [d.label for d in resolve_devices([], TYPES)] == ["cpu"]


def test_repeated_and_comma_separated_are_merged():
    types = {"cpu": CPU, "cuda": FakeAccelerator("cuda", 2)}
    got = resolve_devices(["cpu,cuda:1", "cuda:0", "cpu"], types)
    assert [d.label for d in got] == ["cpu", "cuda:1", "cuda:0"]


def test_all_is_every_available_device():
    types = {"cpu": CPU, "cuda": FakeAccelerator("cuda", 2), "mps": FakeAccelerator("mps", 0)}
    assert [d.label for d in resolve_devices(["all"], types)] == ["cpu", "cuda:0", "cuda:1"]


@pytest.mark.skipif(torch.cuda.device_count() > 0, reason="this machine has CUDA")
def test_missing_cuda_is_a_usage_error_listing_what_is_available():
    with pytest.raises(UsageError, match=r"device 'cuda' is not available.*available: cpu"):
        resolve_devices(["cuda"], TYPES)


def test_unknown_device_lists_available():
    with pytest.raises(UsageError, match=r"unknown device 'nope': available: cpu"):
        resolve_devices(["nope"], TYPES)


def test_index_out_of_range_on_a_one_gpu_box():
    types = {"cpu": CPU, "cuda": FakeAccelerator("cuda", 1)}
    with pytest.raises(UsageError, match=r"'cuda:9' does not exist: cuda has 1 device.*available: cpu, cuda:0"):
        resolve_devices(["cuda:9"], types)


def test_cuda_availability_is_device_count_not_is_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert not CUDA.is_available()


def test_generic_fallback_for_types_torch_knows_without_a_plugin():
    # 'meta' is a device type torch knows and refsuite has no built-in for.
    (dev,) = resolve_devices(["meta"], TYPES)
    assert isinstance(dev.type, GenericDeviceType) and dev.torch == torch.device("meta")


def test_mps_declares_no_float64():
    assert "float64" not in MPS.capabilities and torch.float64 not in MPS.dtypes


def test_generic_fallback_says_why_a_known_backend_has_no_devices(monkeypatch):
    import importlib.util

    xla = GenericDeviceType("xla")
    monkeypatch.setattr(torch, "xla", None, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert xla.device_count() == 0
    assert "torch_xla is not installed: torch does not autoload it" in xla.unavailable_reason()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert "torch_xla is installed but not imported" in xla.unavailable_reason()
    with pytest.raises(UsageError, match=r"xla reports 0 devices: torch knows the device type 'xla'.*available: cpu"):
        resolve_devices(["xla"], TYPES)


def test_generic_fallback_cannot_synchronize_what_has_no_synchronize():
    # meta: torch allocates there, but there is no torch.meta.synchronize and it is no accelerator
    assert "has no synchronize()" in GenericDeviceType("meta").synchronize_problem()
    assert CUDA.synchronize_problem() is None and CPU.synchronize_problem() is None


def test_lacking_capabilities_are_named_in_the_skip_reason():
    from refsuite.core.devices import Device
    from refsuite.core.registry import Requires

    lazy = FakeAccelerator("lazy", 1)
    lazy.capabilities, lazy.lacking = frozenset({"values"}), {"seeding": "its generator ignores manual_seed"}
    reason = Requires(capabilities=frozenset({"values", "seeding"})).unmet(Device(lazy, 0), None)
    assert reason == "device lazy:0 lacks seeding (seeding: its generator ignores manual_seed)"
    with pytest.raises(ValueError, match="unknown capabilities"):
        DeviceType("odd", lacking={"telepathy": "none"})


def test_a_device_caps_hypothesis_examples_and_each_example_is_flushed(tmp_path):
    from refsuite.core.context import Context
    from refsuite.core.devices import Device
    from refsuite.core.profiles import settings_for
    from refsuite.core.tolerance import TolerancePolicy

    flushed = []

    class Lazy(FakeAccelerator):
        def flush(self, device):
            flushed.append(device)

    lazy = Lazy("cpu", 1)
    lazy.max_examples = 3
    assert settings_for("ci", "cpu", None).max_examples == 25
    ctx = Context(Device(lazy, None), tmp_path, settings_for("ci", "cpu", lazy.max_examples), TolerancePolicy())
    examples = []

    from hypothesis import strategies as st

    @ctx.given(n=st.integers(0, 1000))
    def prop(n):
        examples.append(n)

    prop()
    assert len(examples) == 3 and len(flushed) == 3
    ctx.assert_close(torch.ones(2), torch.ones(2))
    assert len(flushed) == 4, "a comparison reads results: it flushes first"


def test_doctor_says_why_a_named_device_type_has_no_devices(capsys):
    from refsuite import cli

    assert cli.main(["doctor", "--device", "hpu"]) == 1  # a run on it would fail too
    out = capsys.readouterr().out
    assert "--device hpu: device 'hpu' is not available on this machine (hpu reports 0 devices: torch knows" in out
    assert cli.main(["doctor", "--device", "cpu"]) == 0
