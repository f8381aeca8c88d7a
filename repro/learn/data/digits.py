"""The default embedded benchmark: scikit-learn's 1,797 real 8x8 handwritten digits, upsampled to size x
size RGB. The base models learn digits 0-4 (the source task); shift is the same classes under CIFAR-10-C
corruptions (corruptions.py); unseen is digits 5-9, which the base model never saw, behind a new head."""

from __future__ import annotations

import numpy as np
import torch

from repro.case.specs import DataSpec
from repro.learn.data.corruptions import corrupt
from repro.learn.data.tasks import Split, Task, stratified_split, to_rgb

SCENARIOS = ("shift", "unseen")
# The embedded shift: one corruption of each family (noise, blur, weather, digital), severity 5.
SHIFT_MIX = ("gaussian_noise", "defocus_blur", "fog", "contrast")
SHIFT_SEVERITY = 5


def digits(size: int = 32, seed: int = 0, classes=range(10), test_fraction: float = 0.25):
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.isin(d.target, list(classes))
    x = to_rgb(torch.from_numpy(d.images[keep] / 16.0), size)
    y = torch.from_numpy(d.target[keep]).long()
    y = y - min(classes)  # labels start at 0 for every class subset
    return stratified_split(x, y, test_fraction, seed)


def shifted(split: Split, seed: int) -> Split:
    """Each image gets one corruption of SHIFT_MIX, in turn, at SHIFT_SEVERITY."""
    x = split.x.clone()
    for i, name in enumerate(SHIFT_MIX):
        x[i::len(SHIFT_MIX)] = corrupt(split.x[i::len(SHIFT_MIX)], name, SHIFT_SEVERITY, seed + i)
    return Split(x, split.y)


def source(spec: DataSpec) -> Task:
    train, test = digits(spec.size, spec.seed, classes=range(5))
    return Task("source", train, test, 5, spec.describe())


def scenario(name: str, spec: DataSpec) -> Task:
    if name == "shift":
        train, test = digits(spec.size, spec.seed, classes=range(5))
        return Task("shift", shifted(train, spec.seed), shifted(test, spec.seed + 100), 5, spec.describe())
    train, test = digits(spec.size, spec.seed, classes=range(5, 10))
    return Task("unseen", train, test, 5, spec.describe())
