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
