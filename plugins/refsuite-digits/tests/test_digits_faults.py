"""The digits unit fails when the labels do not belong to the images."""
import numpy as np
from refsuite.testing import check_dataset

from refsuite_digits import dataset as digits


def test_digits_honour_the_dataset_contract():
    loaded = check_dataset(digits.DIGITS)
    assert loaded.channels == 1 and "colour" not in digits.DIGITS.capabilities


def test_digits_unit_passes(unit_on_digits):
    unit_on_digits.run("training.digits.lenet_reaches_90_percent")


def test_shuffled_labels_are_not_learnable(unit_on_digits, monkeypatch):
    original = digits.DigitsImages.__init__

    def shuffled(self, data, targets, transform=None):
        original(self, data, np.random.default_rng(1).permutation(targets), transform)

    monkeypatch.setattr(digits.DigitsImages, "__init__", shuffled)
    assert "below 90 %" in unit_on_digits.fails("training.digits.lenet_reaches_90_percent")
