"""Each data unit fails when the behaviour it checks is broken."""
import pytest
import torch

from refsuite.core.packages import package_problem

if package_problem("torchvision"):  # the data units are skips there; so are the faults they catch
    pytest.skip(package_problem("torchvision"), allow_module_level=True)

import torchvision  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402

_to_tensor, _normalize, _make_grid = TF.to_tensor, TF.normalize, torchvision.utils.make_grid


def test_all_data_units_pass_unbroken(unit):
    for unit_id in unit.runnable("data.*"):
        unit.run(unit_id)


def test_to_tensor_dividing_by_256(unit, monkeypatch):
    monkeypatch.setattr(TF, "to_tensor", lambda pic: _to_tensor(pic) * (255 / 256))
    unit.fails("data.to_tensor.scales_uint8_to_unit_interval")
    unit.fails("data.stats.streaming_mean_std_match_documented")


def test_normalize_with_mean_and_std_swapped(unit, monkeypatch):
    monkeypatch.setattr(TF, "normalize", lambda t, mean, std, inplace=False: _normalize(t, std, mean, inplace))
    unit.fails("data.normalize.inverse_round_trips")


def test_sampler_that_repeats_one_index(unit, monkeypatch):
    def repeating(original):
        def __iter__(self):
            order = list(original(self))
            return iter(order[:1] * 2 + order[2:] if len(order) > 1 else order)

        return __iter__

    for cls in (torch.utils.data.RandomSampler, torch.utils.data.SequentialSampler):
        monkeypatch.setattr(cls, "__iter__", repeating(cls.__iter__))
    unit.fails("data.loader.epoch_sees_every_index_once")


def test_shuffle_ignoring_its_generator(unit, monkeypatch):
    original = torch.utils.data.RandomSampler.__iter__

    def unseeded(self):
        self.generator = None
        return original(self)

    monkeypatch.setattr(torch.utils.data.RandomSampler, "__iter__", unseeded)
    assert "same seed" in unit.fails("data.loader.epoch_sees_every_index_once")


def test_labels_out_of_range(unit, monkeypatch):
    original = torchvision.datasets.CIFAR10.__getitem__
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "__getitem__", lambda self, i: (original(self, i)[0], 10))
    unit.fails("data.loader.yields_batches_of_four")


def test_wrong_class_names(unit, monkeypatch):
    ds = unit.ctx.dataset
    monkeypatch.setattr(ds, "classes", tuple(reversed(ds.classes)))
    unit.fails("data.classes.are_the_tutorials_ten")


def test_make_grid_without_padding(unit, monkeypatch):
    monkeypatch.setattr(torchvision.utils, "make_grid", lambda t, **k: _make_grid(t, padding=0))
    assert "grid shape" in unit.fails("data.show_batch.grid_shape_and_range")
