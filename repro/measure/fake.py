"""Analytic profiling: the same training step on fake tensors, which carry shapes but no data.

FLOPs and memory categories depend only on shapes, so a step under FakeTensorMode counts exactly what
a real one does, at any input size, in the time the Python dispatch takes. tests/test_fake.py checks
the equality for every model x method.

    mode = AnalyticMode()
    x, y = to_fake(mode, model, optimizer, x, y)
    with mode:
        ...  # run the step as usual
"""

from __future__ import annotations

import functools
from collections import defaultdict

import torch
from torch._subclasses.fake_tensor import FakeTensorMode


class AnalyticMode(FakeTensorMode):
    """FakeTensorMode whose outputs match the CPU kernels' where the two differ in what they allocate.

    The backward ops of batch norm take an `output_mask` of the gradients wanted; the real kernels
    return no tensor for a masked-out gradient, but torch 2.14's meta kernel for
    native_batch_norm_backward allocates grad_input anyway. Under BN+head that is the first BN's
    input gradient, which nothing needs, and it showed up as extra temporary memory.
    """

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = super().__torch_dispatch__(func, types, args, kwargs)
        mask = _output_mask(func, args, kwargs or {})
        if mask is not None and isinstance(out, tuple) and len(out) == len(mask):
            out = tuple(o if wanted else None for o, wanted in zip(out, mask, strict=True))
        return out


def _output_mask(func, args, kwargs):
    i = _output_mask_position(func)
    if i is None:
        return None
    return kwargs.get("output_mask", args[i] if i < len(args) else None)


@functools.cache
def _output_mask_position(func):
    names = [arg.name for arg in func._schema.arguments]
    return names.index("output_mask") if "output_mask" in names else None


def to_fake(mode: FakeTensorMode, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *tensors):
    """Replace the model's parameters and buffers by fake ones, in the model and in the optimizer.

    The model is built and the method applied on real tensors (cheap, and peft moves its adapters with
    .to(), which cannot swap fake parameters); only the step runs on fakes. Returns `tensors` as fakes.
    """
    fakes = {}  # id -> (real, fake); the real tensor is kept so its id stays unique

    def fake(t):
        if id(t) not in fakes:
            f = mode.from_tensor(t, static_shapes=True)
            if isinstance(t, torch.nn.Parameter):
                f = torch.nn.Parameter(f, requires_grad=t.requires_grad)
            fakes[id(t)] = (t, f)
        return fakes[id(t)][1]

    for module in model.modules():
        for store in (module._parameters, module._buffers):
            for name, t in store.items():
                if t is not None:
                    store[name] = fake(t)
    for group in optimizer.param_groups:
        group["params"] = [fake(p) for p in group["params"]]
    # GaLore's projectors are installed in the state before the first step
    optimizer.state = defaultdict(dict, {fake(p): s for p, s in optimizer.state.items()})
    return tuple(fake(t) for t in tensors)
