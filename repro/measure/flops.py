"""FLOPs of one training step, in two conventions, from one dispatch pass.

* exact: torch.utils.flop_counter's formulas (matmuls and convolutions, 2 FLOPs per multiply-add,
  elementwise ops not counted), with the weight gradient of a grouped convolution divided by `groups`.
  torch 2.14.1 ignores groups there, over-counting a depthwise conv's weight gradient by its
  channel count.
* paper: the rules of the paper's profiler (github.com/gslama12/pytorch-model-profiler), including
  that over-count, its spurious terms, and batch norm, add and mul; every other op counts zero.
  docs/paper.md: what the over-count does to the claims.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from math import prod

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from repro.case.protocol import CONVENTIONS

aten = torch.ops.aten


# ---- exact: one override of torch's registry ------------------------------------------------

def conv_backward_exact(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation,
                        transposed, _output_padding, _groups, output_mask, out_shape=None, **kwargs):
    flops = 0
    if output_mask[0]:  # grad input: a transposed conv of grad_out with the weight
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        # grad weight takes as many multiply-adds as the forward conv; w_shape already holds C_in/groups
        flops += conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return flops


EXACT = {aten.convolution_backward: conv_backward_exact}


# ---- paper: the profiler's per-op rules -----------------------------------------------------

def _mm(a_shape, b_shape, *args, out_shape=None, **kwargs):
    m, n = a_shape
    l = b_shape[1]  # noqa: E741
    return 2 * m * n * l - m * l


def _addmm(bias_shape, a_shape, b_shape, *args, out_shape=None, **kwargs):
    return _mm(a_shape, b_shape) + prod(bias_shape[-1:]) * a_shape[1]


def _bmm(a_shape, b_shape, *args, out_shape=None, **kwargs):
    b, m, n = a_shape
    return 2 * b * m * n * b_shape[2]


def _conv(x_shape, w_shape, bias, *args, out_shape=None, **kwargs):
    batch, c_out, *spatial = out_shape
    macs = batch * prod(w_shape) * prod(spatial)
    if bias is not None:
        macs += batch * c_out * prod(spatial)
    return 2 * macs


def _conv_backward(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, _transposed,
                   _output_padding, groups, output_mask, out_shape=None, **kwargs):
    batch, c_out, *out_spatial = grad_out_shape
    _, c_in, *in_spatial = x_shape
    kernel = prod(w_shape[2:])
    flops = 0
    if output_mask[0]:
        flops += 2 * (batch * prod(w_shape) * prod(out_spatial) + batch * c_in * prod(in_spatial))
    if output_mask[1]:  # groups ignored in the first term; the second term is spurious
        flops += 2 * (c_in * batch * c_out * prod(out_spatial) * kernel + c_in * (c_in // groups) * kernel)
    return flops


def _add(*args, out_shape=None, **kwargs):
    return 2 * prod(out_shape)


def _mul(*args, out_shape=None, **kwargs):
    return prod(out_shape)


def _requires_grad(t) -> bool:
    return isinstance(t, torch.Tensor) and t.requires_grad


def _batch_norm(x, weight, bias, *args, out_val=None, **kwargs):
    n, c = x.numel(), x.shape[1]
    return 6 * n + 2 * c + n * (_requires_grad(weight) + _requires_grad(bias))


_batch_norm._get_raw = True


def _batch_norm_backward(grad_out, x, weight, *args, out_val=None, **kwargs):
    n, c = x.numel(), x.shape[1]
    return 4 * n + c + (n + c if _requires_grad(weight) else 0)


_batch_norm_backward._get_raw = True

PAPER = {
    aten.mm: _mm,
    aten.addmm: _addmm,
    aten.bmm: _bmm,
    aten.convolution: _conv,
    aten.convolution_backward: _conv_backward,
    aten.add: _add,
    aten.add_: _add,
    aten.mul: _mul,
    aten.mul_: _mul,
    aten.native_batch_norm: _batch_norm,
    aten.cudnn_batch_norm: _batch_norm,
    aten.native_batch_norm_backward: _batch_norm_backward,
    aten.cudnn_batch_norm_backward: _batch_norm_backward,
}


def _shapes(x):
    """torch.utils.flop_counter.get_shape over args, kwargs or outputs (tensors, lists, tuples, dicts)."""
    if isinstance(x, torch.Tensor):
        return x.shape
    if isinstance(x, (list, tuple)):
        return type(x)(_shapes(i) for i in x)
    if isinstance(x, dict):
        return {k: _shapes(v) for k, v in x.items()}
    return x


class TwoConventionCounter(FlopCounterMode):
    """FlopCounterMode that applies both conventions to every op it sees.

    Both registries are consulted in one pass, so the two conventions count the same stream of ops.
    FlopCounterMode decomposes an op it finds no formula for, but looks the op up by overload in a
    registry keyed by packet, so it decomposes every op that has a Python decomposition, formula or
    not: in these CNNs that is native_batch_norm, which the paper's rules count whole. Listing the
    overloads of every op with a formula keeps such ops whole; no matmul or conv hides inside them.
    """

    def __init__(self):
        super().__init__(display=False, custom_mapping=EXACT)
        # FlopCounterMode's ModuleTracker hooks every module to attribute FLOPs per module; only the
        # totals are read here, and the hooks cost about as much as the counting.
        self.mod_tracker = contextlib.nullcontext()
        # packet -> (formula, whether it takes shapes). torch's registry wraps each formula in a
        # shape_wrapper; unwrapped, one op's shapes are taken once for both conventions and without
        # pytree, which was a third of the counting time.
        paper = {k: (f, not getattr(f, "_get_raw", False)) for k, f in PAPER.items()}
        exact = {k: (getattr(f, "__wrapped__", f), hasattr(f, "__wrapped__")) for k, f in self.flop_registry.items()}
        self.formulas = {"exact": exact, "paper": paper}
        packets = {**exact, **paper}
        self.flop_registry = {**packets, **{getattr(p, o): None for p in packets
                                            if isinstance(p, torch._ops.OpOverloadPacket)
                                            for o in p.overloads()}}
        self.by_convention: dict[str, dict] = {}
        self._decomposes: dict = {}

    def reset(self) -> None:
        self.by_convention = {c: defaultdict(int) for c in CONVENTIONS}

    def __enter__(self):
        self.reset()
        return super().__enter__()

    def _count_flops(self, func_packet, out, args, kwargs):
        shapes = None
        for convention, formulas in self.formulas.items():
            if func_packet not in formulas:
                continue
            formula, wants_shapes = formulas[func_packet]
            if not wants_shapes:
                flops = formula(*args, **kwargs, out_val=out)
            else:
                if shapes is None:
                    shapes = _shapes(args), _shapes(kwargs), _shapes(out)
                flops = formula(*shapes[0], **shapes[1], out_shape=shapes[2])
            self.by_convention[convention][func_packet] += flops
        return out

    def decomposes(self, func) -> bool:
        """Whether FlopCounterMode would decompose `func` and count its parts: an op with no formula that has
        a CompositeImplicitAutograd kernel. The dispatcher's answer does not change: kept per op."""
        known = self._decomposes.get(func)
        if known is None:
            cia = torch._C.DispatchKey.CompositeImplicitAutograd
            known = self._decomposes[func] = (
                func not in self.flop_registry and func is not torch.ops.prim.device.default
                and (cia in func.py_kernels or torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), cia)))
        return known

    def totals(self) -> dict[str, int]:
        return {c: int(sum(ops.values())) for c, ops in self.by_convention.items()}


PHASES = ("forward", "backward", "optimizer")


def by_convention(phases: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """{phase: {convention: FLOPs}} as {convention: {phase: FLOPs, "total": their sum}}."""
    out = {c: {p: phases[p][c] for p in PHASES} for c in CONVENTIONS}
    for c in CONVENTIONS:
        out[c]["total"] = sum(out[c].values())
    return out


def count_step_flops(forward, backward, optimizer_step) -> dict[str, dict[str, int]]:
    """FLOPs per convention per phase of one step; each argument runs one phase."""
    counter = TwoConventionCounter()
    phases = {}
    for phase, run in zip(PHASES, (forward, backward, optimizer_step), strict=True):
        with counter:
            run()
        phases[phase] = counter.totals()
    return by_convention(phases)
