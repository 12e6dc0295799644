"""Each data unit fails when the behaviour it checks is broken."""
import numpy as np
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


# Reader faults a faulty torchvision could ship: each keeps the splits' shapes, value ranges and
# (nearly) their per-channel statistics, so only content catches them.

#: the units that check content; unit.fails() below names each (a literal id: fault coverage reads them)
CONTENT = ("data.reader.returns_what_was_written", "data.transforms.match_numpy_on_written_pixels",
           "data.transforms.leave_their_input_untouched")


def _after_loading(monkeypatch, fault):
    """CIFAR10 as loaded, then ``fault(dataset)`` applied: a reader that decodes its files wrongly."""
    original = torchvision.datasets.CIFAR10.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        fault(self)

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "__init__", __init__)


def test_the_clean_data_path_passes_the_content_units(unit):
    for unit_id in CONTENT:
        unit.run(unit_id)


def test_content_units_follow_the_generation_they_are_given(unit, monkeypatch, tmp_path):
    from refsuite.datasets.synthetic import SyntheticCIFAR10

    monkeypatch.setenv("REFSUITE_DATA_ROOT", str(tmp_path))
    unit.select_dataset(SyntheticCIFAR10(train_size=103, test_size=17, seed=3))
    for unit_id in CONTENT:
        unit.run(unit_id)
    assert (len(unit.ctx.dataset.train), len(unit.ctx.dataset.test)) == (103, 17)


def test_content_units_are_visible_skips_on_data_refsuite_did_not_write(unit):
    from refsuite.datasets.base import DatasetPlugin

    class Other(DatasetPlugin):
        name = "other"

        def load(self, root, download):  # pragma: no cover - never loaded: the units are skipped first
            raise AssertionError

    unit.select_dataset(Other())
    for unit_id in CONTENT[:2]:
        assert "needs --dataset synthetic-cifar10 (selected: other)" in unit.unmet(unit_id)


def test_getitem_returning_the_next_image(unit, monkeypatch):
    original = torchvision.datasets.CIFAR10.__getitem__

    def shifted(self, i):
        return original(self, (i + 1) % len(self))[0], original(self, i)[1]

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "__getitem__", shifted)
    unit.fails("data.reader.returns_what_was_written", match=r"train\[0\] as a PIL image")
    unit.fails("data.transforms.match_numpy_on_written_pixels", match=r"tutorial transform of train\[0\]")


def test_images_and_labels_permuted_together(unit, monkeypatch):
    def permute(ds):
        order = np.random.default_rng(0).permutation(len(ds.data))
        ds.data, ds.targets = ds.data[order], [ds.targets[i] for i in order]

    _after_loading(monkeypatch, permute)
    unit.fails("data.reader.returns_what_was_written", match=r"train\.data: \d+ of \d+ images differ")


def test_test_labels_shifted_by_one(unit, monkeypatch):
    _after_loading(monkeypatch, lambda ds: None if ds.train else setattr(ds, "targets", ds.targets[1:] + ds.targets[:1]))
    unit.fails("data.reader.returns_what_was_written", match=r"test\.targets: \d+ of \d+ labels differ")
    unit.fails("data.transforms.match_numpy_on_written_pixels", match=r"test\[0\] is labelled")


def test_one_image_read_as_bgr(unit, monkeypatch):
    def swap(ds):
        if ds.train:
            k = len(ds.data) * 3 // 7  # none of the images read one by one
            ds.data[k] = ds.data[k, :, :, ::-1]

    _after_loading(monkeypatch, swap)
    unit.fails("data.reader.returns_what_was_written", match=r"train\.data: 1 of \d+ images differ from the written ones; image \d+")


def test_test_split_returned_as_train(unit, monkeypatch):
    original = torchvision.datasets.CIFAR10.__init__
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "__init__",
                        lambda self, root, train=True, **kw: original(self, root, train=True, **kw))
    unit.fails("data.reader.returns_what_was_written", match=r"test: the reader has \d+ images, refsuite wrote \d+")


def test_hwc_read_by_reshaping_the_chw_rows(unit, monkeypatch):
    def reshape(ds):
        rows = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)).reshape(len(ds.data), -1)
        ds.data = rows.reshape(-1, 32, 32, 3)

    _after_loading(monkeypatch, reshape)
    unit.fails("data.reader.returns_what_was_written", match=r"train\.data: (\d+) of \1 images differ")
    unit.fails("data.transforms.match_numpy_on_written_pixels", match=r"tutorial transform")


def test_class_names_rotated(unit, monkeypatch):
    def rotate(ds):
        ds.classes = ds.classes[1:] + ds.classes[:1]
        ds.class_to_idx = {name: i for i, name in enumerate(ds.classes)}

    _after_loading(monkeypatch, rotate)
    unit.fails("data.reader.returns_what_was_written", match=r"classes are .* but batches\.meta names")


def test_to_tensor_transposing_height_and_width(unit, monkeypatch):
    # a square image keeps its shape, range and per-channel statistics
    monkeypatch.setattr(TF, "to_tensor", lambda pic: _to_tensor(pic).transpose(-1, -2).contiguous())
    unit.fails("data.transforms.match_numpy_on_written_pixels", match=r"tutorial transform of .* vs numpy")


def test_normalize_in_place_on_its_input(unit, monkeypatch):
    monkeypatch.setattr(TF, "normalize", lambda t, mean, std, inplace=False: _normalize(t, mean, std, True))
    unit.fails("data.transforms.leave_their_input_untouched", match=r"Normalize on a 3-d tensor changed its input")


def test_to_tensor_reordering_an_array_in_place(unit, monkeypatch):
    def to_tensor(pic):
        out = _to_tensor(pic)
        if isinstance(pic, np.ndarray):
            pic[...] = pic[..., ::-1].copy()
        return out

    monkeypatch.setattr(TF, "to_tensor", to_tensor)
    unit.fails("data.transforms.leave_their_input_untouched", match=r"ToTensor on an array changed its input")
