"""Datasets declare what they have, units what they need: a dataset lacking a need is a visible
skip naming both, and a dataset that breaks the contract says how."""
from __future__ import annotations

import json
import textwrap
import types

import pytest

import refsuite
from refsuite import Requires
from refsuite.core.devices import CPU, Device
from refsuite.core.discovery import Provider, classify
from refsuite.datasets.base import DatasetSelection
from test_plugins import Env, _project, env  # noqa: F401  (a venv that sees this one's packages)

LOOP = "training.loop.running_loss_falls_and_repeats"

#: torchvision's FakeData (random images, random labels) as a dataset plugin, as a user would wrap it
FAKEDATA = textwrap.dedent('''
    """torchvision's FakeData as a refsuite dataset: random images with random labels."""
    import numpy as np
    import torch
    from PIL import Image
    from torchvision.datasets import FakeData

    from refsuite import DatasetPlugin, LoadedDataset


    class Split(torch.utils.data.Dataset):
        def __init__(self, size, offset):
            fake = FakeData(size=size, image_size=(3, 32, 32), num_classes=10, random_offset=offset)
            pairs = [fake[i] for i in range(size)]
            self.data = np.stack([np.asarray(image) for image, _ in pairs])
            self.targets = [label for _, label in pairs]
            self.classes = [str(c) for c in range(10)]
            self.transform = None

        def __len__(self):
            return len(self.targets)

        def __getitem__(self, index):
            image = Image.fromarray(self.data[index])
            return (self.transform(image) if self.transform else image), self.targets[index]


    class Fake(DatasetPlugin):
        name = "fakedata"
        description = "torchvision's FakeData: random images, random labels"
        capabilities = frozenset({"colour", "32x32", "ten_classes"})  # random labels: not learnable

        def load(self, root, download):
            train, test = Split(2400, 0), Split(400, 100_000)
            pixels = train.data.reshape(-1, 3) / 255
            return LoadedDataset(self.name, train, test, tuple(train.classes),
                                 list(pixels.mean(axis=0)), list(pixels.std(axis=0, ddof=1)))


    FAKEDATA = Fake()
''')


@pytest.fixture(scope="module")
def fakedata():
    module = types.ModuleType("refsuite_fakedata")
    exec(compile(FAKEDATA, "refsuite_fakedata.py", "exec"), module.__dict__)
    return module.FAKEDATA


def test_a_missing_capability_is_a_skip_naming_the_dataset_and_the_capability():
    needs = Requires(dataset=True, dataset_capabilities=frozenset({"learnable", "ten_classes"}))
    cpu = Device(CPU)
    assert needs.unmet(cpu, "fakedata", dataset_capabilities={"ten_classes"}) == (
        "dataset fakedata lacks learnable (labels a model can learn from the images, not random ones)")
    assert needs.unmet(cpu, "synthetic-cifar10", dataset_capabilities=refsuite.DATASET_CAPABILITIES) is None
    assert "dataset capabilities=learnable+ten_classes" in needs.describe()
    with pytest.raises(ValueError, match=r"unknown dataset capabilities \['learnabel'\]"):
        Requires(dataset_capabilities={"learnabel"})


def test_builtin_datasets_and_units_declare_theirs(plugins):
    for name in ("synthetic-cifar10", "cifar10"):
        assert plugins.datasets[name].capabilities == {"learnable", "colour", "32x32", "ten_classes"}
    assert plugins.units.get(LOOP).requires.dataset_capabilities == {"learnable", "32x32", "ten_classes"}
    assert plugins.units.get("data.loader.yields_batches_of_four").requires.dataset_capabilities == {"32x32", "ten_classes"}


def test_a_dataset_declaring_an_unknown_capability_is_a_broken_plugin(fakedata):
    provider = Provider("refsuite.datasets", "fakedata", "x:Y", "refsuite-fakedata 1.0",
                        loaded=types.SimpleNamespace(name="fakedata", capabilities=frozenset({"colour", "coloured"})))
    found = classify([provider])
    assert "fakedata" not in found.datasets
    assert "declares unknown capabilities ['coloured']" in found.broken("refsuite.datasets")["fakedata"]


def test_random_labels_fail_the_loop_unless_the_dataset_says_so(unit, fakedata, monkeypatch):
    unit.select_dataset(fakedata)
    assert unit.unmet(LOOP) == "dataset fakedata lacks learnable (labels a model can learn from the images, not random ones)"
    monkeypatch.setattr(type(fakedata), "capabilities", frozenset(refsuite.DATASET_CAPABILITIES) - {"colour"})
    unit.select_dataset(fakedata)  # claiming learnable labels it does not have: the unit catches it
    assert "running loss did not fall" in unit.fails(LOOP)


def test_a_dataset_that_breaks_its_contract_says_how(fakedata, monkeypatch):
    monkeypatch.setattr(type(fakedata), "capabilities", frozenset({"colour", "ten_classes"}))
    load = type(fakedata).load

    def greyscale_claiming_three_channels(self, root, download):
        loaded = load(self, root, download)
        loaded.train.data = loaded.train.data[..., 0]
        loaded.test.targets = [t + 5 for t in loaded.test.targets]
        return loaded

    monkeypatch.setattr(type(fakedata), "load", greyscale_claiming_three_channels)
    selection = DatasetSelection.from_options({"fakedata": fakedata}, "fakedata", None, False)
    with pytest.raises(refsuite.DatasetError) as caught:
        selection.load()
    assert str(caught.value) == (
        "dataset 'fakedata' breaks the dataset contract (see PLUGINS.md): train.data is uint8 (2400, 32, 32), "
        "not uint8 N×H×W×3; test.targets run from 5 to 14, outside 0..9")


@pytest.mark.slow
def test_fakedata_as_an_installed_plugin_is_green_with_visible_skips(env, tmp_path):  # noqa: F811
    env.install(_project(tmp_path, "refsuite-fakedata", "refsuite_fakedata", FAKEDATA, "fakedata",
                         group="refsuite.datasets", target="FAKEDATA"))
    try:
        record = tmp_path / "r.json"
        run = env.refsuite("run", "--dataset", "fakedata", "--record", str(record), cwd=tmp_path)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        results = {r["unit"]: r for r in json.loads(record.read_text())["results"]}
        assert {r["outcome"] for r in results.values()} == {"passed", "skipped"}
        reason = "dataset fakedata lacks learnable (labels a model can learn from the images, not random ones)"
        assert results[LOOP]["outcome"] == "skipped" and results[LOOP]["reason"] == reason
        assert f"skipped {LOOP}[cpu]: {reason}" in run.stdout
        for ran in ("training.loop.fast_kernels_follow_the_tutorial_loop", "data.stats.streaming_mean_std_match_documented",
                    "data.loader.yields_batches_of_four", "data.show_batch.grid_shape_and_range"):
            assert results[ran]["outcome"] == "passed", results[ran]
    finally:
        env.pip("uninstall", "-y", "-q", "refsuite-fakedata")
