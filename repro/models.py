"""The edge CNNs of the paper, as torchvision builds them.

Adding a model is one entry in MODELS: a function (num_classes) -> nn.Module.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

MODELS = {
    "resnet18": lambda num_classes: tvm.resnet18(num_classes=num_classes),
    "mobilenet_v2": lambda num_classes: tvm.mobilenet_v2(num_classes=num_classes),
    "mobilenet_v3_small": lambda num_classes: tvm.mobilenet_v3_small(num_classes=num_classes),
    "mobilenet_v3_large": lambda num_classes: tvm.mobilenet_v3_large(num_classes=num_classes),
}

# All four models downsample five times by 2; below 32 px the last stages convolve padding only.
MIN_INPUT_SIZE = 32


def build_model(name: str, num_classes: int = 10, input_size: int = 32,
                weights: str | Path | None = None) -> nn.Module:
    """A freshly initialised (or cached-weights) model for `input_size` x `input_size` RGB input."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if input_size < MIN_INPUT_SIZE:
        raise ValueError(f"input size {input_size} is too small for {name}: it downsamples 32x, "
                         f"use --size {MIN_INPUT_SIZE} or more")
    model = MODELS[name](num_classes)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist; pass weights=None for a "
                                    f"randomly initialised {name}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model


def head_name(model: nn.Module) -> str:
    """The classifier head: the last Linear layer (fc in ResNet, classifier[-1] in MobileNets)."""
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer to use as classifier head")
    return linears[-1]


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """A fresh classifier head for `num_classes` (the unseen-classes scenario)."""
    name = head_name(model)
    old = model.get_submodule(name)
    model.set_submodule(name, nn.Linear(old.in_features, num_classes))
    return model


def is_depthwise(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
