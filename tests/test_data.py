"""Offline data: the digits source, the scenarios and the CIFAR-10-C corruptions."""

import pytest
import torch

from repro.case.specs import DataSpec
from repro.learn.data import scenario_task, source_task
from repro.learn.data.corruptions import CORRUPTIONS, corrupt
from repro.learn.data.digits import digits


@pytest.fixture(scope="module")
def images():
    train, _ = digits(size=32, seed=0)
    return train.x[:40]


def test_digits_split_is_seeded_balanced_and_in_range():
    train, test = digits(seed=0)
    again, _ = digits(seed=0)
    other, _ = digits(seed=1)
    assert torch.equal(train.x, again.x) and torch.equal(train.y, again.y)
    assert not torch.equal(train.y, other.y[: len(train.y)]) or not torch.equal(train.x, other.x)
    assert train.x.shape[1:] == (3, 32, 32) and 0 <= train.x.min() and train.x.max() <= 1
    assert len(train) + len(test) == 1797
    counts = torch.bincount(train.y, minlength=10)
    assert counts.min() >= 0.9 * counts.max()  # the digits are near balanced, and the split is stratified


def test_scenarios_of_the_embedded_default():
    source, shift, unseen = source_task(DataSpec()), scenario_task("shift", DataSpec()), scenario_task(
        "unseen", DataSpec())
    assert source.num_classes == shift.num_classes == unseen.num_classes == 5
    assert torch.equal(shift.train.y, source.train.y)  # same images and classes, corrupted
    assert not torch.equal(shift.train.x, source.train.x)
    assert not torch.equal(unseen.train.x[:10], source.train.x[:10])  # digits 5-9
    assert set(unseen.train.y.tolist()) == set(range(5))


def test_unknown_scenario():
    with pytest.raises(ValueError, match="unknown scenario 'drift' for embedded digits; valid scenarios: shift, "
                                         "unseen"):
        scenario_task("drift", DataSpec())


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_shape_range_determinism_and_severity(images, name):
    out = corrupt(images, name, 3, seed=7)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, corrupt(images, name, 3, seed=7))
    mild = (corrupt(images, name, 1) - images).abs().mean()
    severe = (corrupt(images, name, 5) - images).abs().mean()
    assert severe > mild > 0


def test_at_least_eight_cifar10c_corruptions():
    assert len(CORRUPTIONS) >= 8


def test_bad_corruption_input(images):
    with pytest.raises(ValueError, match="unknown corruption 'rain'"):
        corrupt(images, "rain", 1)
    with pytest.raises(ValueError, match="severity must be 1..5, got 6"):
        corrupt(images, "fog", 6)
