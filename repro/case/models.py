"""Models: the edge CNNs of the paper and other edge CNNs torchvision ships, any user's CNN, by name.

Adding a model is one entry in MODELS: a function (num_classes) -> nn.Module. A model can also be
named without touching this file:
* `package.module:factory`, a callable taking `num_classes` (`--model mypkg.nets:tiny_cnn`);
* an entry point in the group `repro.models` of an installed package, whose name then works like a
  built-in one and shows in `python -m repro list`:

      [project.entry-points."repro.models"]
      tiny_cnn = "mypkg.nets:tiny_cnn"
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from repro.case.protocol import PAPER_MODELS  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # torch is imported where a model is built or read: naming the models needs none
    from torch import nn


def _torchvision(name: str) -> Callable:
    """torchvision's builder `name`, imported when a model is built."""

    def build(num_classes: int):
        from torchvision import models

        return getattr(models, name)(num_classes=num_classes)

    return build


MODELS = {
    # the paper's four
    "resnet18": _torchvision("resnet18"),
    "mobilenet_v2": _torchvision("mobilenet_v2"),
    "mobilenet_v3_small": _torchvision("mobilenet_v3_small"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    # torchvision's other edge CNNs, no weights. SqueezeNet is not among them: its classifier is a
    # 1x1 conv, and every method here trains or replaces a Linear head.
    "mnasnet0_5": _torchvision("mnasnet0_5"),
    "mnasnet1_0": _torchvision("mnasnet1_0"),
    "shufflenet_v2_x0_5": _torchvision("shufflenet_v2_x0_5"),
    "shufflenet_v2_x1_0": _torchvision("shufflenet_v2_x1_0"),
    "efficientnet_b0": _torchvision("efficientnet_b0"),
    "regnet_x_400mf": _torchvision("regnet_x_400mf"),
    "regnet_y_400mf": _torchvision("regnet_y_400mf"),
}
ENTRY_POINT_GROUP = "repro.models"
FACTORY_FORM = "a registered name, an entry point of the group repro.models, or package.module:factory " \
               "(a callable taking num_classes)"

# Every registered model downsamples five times by 2; below 32 px the last stages convolve padding only.
MIN_INPUT_SIZE = 32


def entry_point_models() -> dict[str, metadata.EntryPoint]:
    """Models that installed packages register under the entry-point group repro.models."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def model_names() -> list[str]:
    return [*MODELS, *(n for n in entry_point_models() if n not in MODELS)]


def factory(name: str) -> Callable[[int], nn.Module]:
    """The callable behind a model name, or one error that says what a model name can be."""
    if name in MODELS:
        return MODELS[name]
    eps = entry_point_models()
    try:
        if name in eps:
            return eps[name].load()
        if ":" in name:
            module, attr = name.split(":", 1)
            fn = importlib.import_module(module)
            for part in attr.split("."):
                fn = getattr(fn, part)
            if not callable(fn):
                raise TypeError(f"{attr} is a {type(fn).__name__}, not a callable")
            return fn
    except Exception as err:  # anything importing a user's module can raise
        raise ValueError(f"model {name!r} does not resolve ({type(err).__name__}: {err}); a model is "
                         f"{FACTORY_FORM}") from err
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(model_names())}; or "
                     f"package.module:factory (a callable taking num_classes)")


def build_model(name: str, num_classes: int = 10, input_size: int = 32,
                weights: str | Path | None = None) -> nn.Module:
    """A freshly initialised (or cached-weights) model for `input_size` x `input_size` RGB input."""
    import torch
    from torch import nn

    make = factory(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if name in MODELS and input_size < MIN_INPUT_SIZE:  # a user's own model knows its own minimum
        raise ValueError(f"input size {input_size} is too small for {name}: it downsamples 32x, "
                         f"use --size {MIN_INPUT_SIZE} or more")
    try:
        model = make(num_classes)
    except Exception as err:  # a user's factory: say whose it was, not only what broke inside it
        raise ValueError(f"model factory {name!r} failed for num_classes={num_classes} "
                         f"({type(err).__name__}: {err})") from err
    if not isinstance(model, nn.Module):
        raise ValueError(f"model factory {name!r} returned a {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist; pass weights=None for a "
                                    f"randomly initialised {name}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model


def head_name(model: nn.Module, head: str | None = None) -> str:
    """The classifier head: `head` when given (--head), else the last Linear layer (fc in ResNet,
    classifier[-1] in MobileNets)."""
    from torch import nn

    if head is not None:
        modules = dict(model.named_modules())
        if not isinstance(modules.get(head), nn.Linear):
            linears = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
            what = "no such module" if head not in modules else f"a {type(modules[head]).__name__}"
            raise ValueError(f"--head {head!r} is {what}; the head must be an nn.Linear "
                             f"(this model's: {', '.join(linears) or 'none'})")
        return head
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to use as classifier head; every method "
                         f"here trains or replaces a Linear head: give the model one (after global pooling)")
    return linears[-1]


def replace_head(model: nn.Module, num_classes: int, head: str | None = None) -> nn.Module:
    """A fresh classifier head for `num_classes` (the unseen-classes scenario)."""
    from torch import nn

    name = head_name(model, head)
    old = model.get_submodule(name)
    model.set_submodule(name, nn.Linear(old.in_features, num_classes))
    return model


def is_depthwise(m: nn.Module) -> bool:
    from torch import nn

    return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
