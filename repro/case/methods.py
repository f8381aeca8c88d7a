"""Fine-tuning methods: which parameters train, how, and with which optimizer.

Each entry of METHODS takes (model, rank, opts) and returns (model ready to train, optimizer).
Adding a method is one function and one entry.
"""

from __future__ import annotations

import math
import re
import warnings

import torch
from torch import nn

from repro.case.models import head_name
from repro.case.protocol import OPTIMIZERS, PAPER_METHODS, RANK_MEANING, RANKED, TARGET_POLICIES  # noqa: F401
from repro.case.specs import MethodOptions


def _optimizer(params, opts: MethodOptions) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    # foreach=False: the multi-tensor kernels are the default on CUDA only, and they count zero
    # under the paper's FLOP rules, so the single-tensor path keeps CPU and CUDA counts equal.
    if opts.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=opts.lr, foreach=False)
    if opts.optimizer == "sgd":
        return torch.optim.SGD(params, lr=opts.lr, momentum=0.9, foreach=False)
    raise ValueError(f"unknown optimizer {opts.optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def _no_rank(method: str, rank: int | None) -> None:
    if rank is not None:
        raise ValueError(f"method {method!r} takes no rank (got rank={rank}); drop --rank")


def require_rank(method: str, rank: int | None) -> None:
    if rank is None:
        raise ValueError(f"method {method!r} needs a rank: pass --rank R with R >= 1")


def _check_rank(method: str, rank: int | None, dims: dict[str, int]) -> None:
    """dims: the largest rank each targeted layer can use (min of its matrix shape)."""
    require_rank(method, rank)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be an integer >= 1, got {rank!r}")
    # A rank above every layer's smaller dimension adapts nothing more than full rank would.
    if rank > max(dims.values()):
        widest = max(dims, key=dims.get)
        raise ValueError(f"rank {rank} is larger than any targeted layer of this model allows; "
                         f"valid ranks are 1..{dims[widest]} (widest layer: {widest})")


def _freeze_all_but(model: nn.Module, trainable) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    return model


def fft(model, rank, opts):
    _no_rank("fft", rank)
    return model, _optimizer(model.parameters(), opts)


def head(model, rank, opts):
    _no_rank("head", rank)
    trainable = list(model.get_submodule(head_name(model, opts.head)).parameters())
    return _freeze_all_but(model, trainable), _optimizer(trainable, opts)


def bn_head(model, rank, opts):
    _no_rank("bn_head", rank)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    trainable = [p for m in bns for p in m.parameters()]
    trainable += list(model.get_submodule(head_name(model, opts.head)).parameters())
    return _freeze_all_but(model, trainable), _optimizer(trainable, opts)


def lora_targets(model: nn.Module, policy: str, head: str | None = None) -> dict[str, nn.Module]:
    """Layers that get an adapter, by name. The head is not among them: it trains fully.

    pointwise+regular: every ungrouped Conv2d and every Linear. In the paper's models the only grouped
    convs are depthwise, so this is the author's "all but depthwise"; RegNet's and other group convs
    are left out too, since peft adapts a grouped conv only at ranks divisible by its groups.
    """
    if policy not in TARGET_POLICIES:
        raise ValueError(f"unknown target policy {policy!r}; valid policies: {', '.join(TARGET_POLICIES)}")
    skip = head_name(model, head)
    out = {}
    for name, m in model.named_modules():
        if name == skip or not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        if policy == "all" or getattr(m, "groups", 1) == 1:
            out[name] = m
    if not out:
        raise ValueError(f"no layer to adapt under --targets {policy}: the model has no Conv2d or Linear "
                         f"besides its head")
    return out


def _adapter_dim(m: nn.Module) -> int:
    if isinstance(m, nn.Linear):
        return min(m.in_features, m.out_features)
    return min(m.in_channels, m.out_channels)


def _peft_config(method: str, rank: int | None, opts: MethodOptions):
    """The peft config of each adapter method; what `rank` means differs, see RANK_MEANING."""
    import peft

    if method in ("lora", "dora"):
        return peft.LoraConfig(r=rank, lora_alpha=opts.lora_alpha if opts.lora_alpha is not None else rank,
                               lora_dropout=opts.lora_dropout, use_dora=method == "dora")
    if method == "loha":  # alpha = rank: scaling 1, as for LoRA
        return peft.LoHaConfig(r=rank, alpha=rank)
    if method == "lokr":
        return peft.LoKrConfig(r=rank, alpha=rank)
    if method == "oft":  # peft takes either the number of blocks or their size; the size is the rank here
        return peft.OFTConfig(r=0, oft_block_size=rank)
    if method == "boft":
        return peft.BOFTConfig(boft_block_size=rank, boft_n_butterfly_factor=1)
    if method == "ia3":  # no rank: one learned scale per output channel of each adapted layer
        return peft.IA3Config(feedforward_modules=[])
    raise AssertionError(method)


def _input_dim(m: nn.Module) -> int:
    return m.in_features if isinstance(m, nn.Linear) else m.in_channels * m.kernel_size[0] * m.kernel_size[1]


def _boft_divisible(targets: dict, rank: int) -> dict:
    """BOFT rotates a layer's input in blocks of `rank`, so it adapts only layers whose input dimension
    (C_in * k * k for a conv) is a multiple of it; an RGB stem's 27 never is at even ranks. The others
    stay frozen, and the warning says how many."""
    kept = {n: m for n, m in targets.items() if _input_dim(m) % rank == 0}
    left = [n for n in targets if n not in kept]
    if not kept:
        raise ValueError(f"boft at rank {rank} can adapt no layer: no targeted layer's input dimension "
                         f"(C_in * k * k) is a multiple of {rank}; try rank 2 or 4")
    if left:
        warnings.warn(f"boft r{rank}: {len(left)} of {len(targets)} targeted layers stay frozen, their input "
                      f"dimension not a multiple of {rank} (first: {left[0]}, {_input_dim(targets[left[0]])})",
                      stacklevel=3)
    return kept


def _peft(model, rank, opts, method: str):
    from peft import get_peft_model

    targets = lora_targets(model, opts.targets, opts.head)
    if method == "boft" and rank:
        targets = _boft_divisible(targets, rank)
    grouped = {n: m.groups for n, m in targets.items() if isinstance(m, nn.Conv2d) and m.groups > 1}
    if method == "boft" and grouped:
        # newer peft refuses these itself; peft 0.18 and older build the adapter and fail in its forward
        first = next(iter(grouped))
        raise ValueError(f"peft cannot apply boft at rank {rank} to this model (BOFT does not support Conv2d "
                         f"layers with groups > 1: {first} has groups={grouped[first]}); "
                         f"use --targets pointwise+regular")
    if method == "ia3":
        _no_rank(method, rank)
    else:
        _check_rank(method, rank, {n: _adapter_dim(m) for n, m in targets.items()})
    bad = [n for n, g in grouped.items() if method in ("lora", "dora") and rank % g]
    if bad:
        # peft adapts a grouped conv only when the rank is a multiple of its groups
        step = math.lcm(*grouped.values())
        largest = max(_adapter_dim(m) for m in targets.values())
        works = (f"ranks that work for every layer are multiples of {step}" if step <= largest else
                 f"no rank up to {largest} divides every layer's groups (their lcm is {step})")
        raise ValueError(f"rank {rank} cannot adapt grouped conv {bad[0]} (groups={grouped[bad[0]]}) "
                         f"with --targets all: peft needs the rank divisible by groups; {works}; "
                         f"or use --targets pointwise+regular")
    config = _peft_config(method, rank, opts)
    # a regex of the full names: a list would match by suffix, and "layers.6" would then also adapt
    # "layers.8.0.layers.6" (MNASNet), a layer the policy or BOFT's divisibility had left out
    config.target_modules = "^(" + "|".join(re.escape(n) for n in targets) + ")$"
    config.modules_to_save = [head_name(model, opts.head)]
    try:
        model = get_peft_model(model, config)
    except (ValueError, RuntimeError, TypeError, NotImplementedError) as err:
        # peft's own limits (a layer kind or shape it cannot adapt): say which method and rank met them
        raise ValueError(f"peft cannot apply {method} at rank {rank} to this model ({err}); "
                         f"try another rank or --targets") from err
    return model, _optimizer(model.parameters(), opts)


def lora(model, rank, opts):
    return _peft(model, rank, opts, "lora")


def dora(model, rank, opts):
    return _peft(model, rank, opts, "dora")


def galore(model, rank, opts):
    from repro.case.galore import GaLoreAdamW, matrix_shape

    if opts.optimizer != "adamw":
        raise ValueError(f"method 'galore' uses GaLore's AdamW; optimizer {opts.optimizer!r} is not "
                         f"supported with it")
    # Every conv and linear weight is projected; biases and BN affine parameters keep plain AdamW state.
    projected = {n: p for n, p in model.named_parameters() if p.dim() >= 2}
    _check_rank("galore", rank, {n: min(matrix_shape(p.shape)) for n, p in projected.items()})
    ids = {id(p) for p in projected.values()}
    plain = [p for p in model.parameters() if id(p) not in ids]
    groups = [
        {"params": plain},
        {"params": list(projected.values()), "rank": rank, "update_proj_gap": opts.update_proj_gap,
         "scale": opts.galore_scale, "proj_type": "std"},
    ]
    return model, GaLoreAdamW(groups, lr=opts.lr)


# Every name here has its meaning of --rank in RANK_MEANING (repro/case/protocol.py), which lists the
# methods without importing torch or peft; a test keeps the two in one order.
METHODS = {
    # the paper's five, and head-only
    "fft": fft,
    "bn_head": bn_head,
    "head": head,
    "lora": lora,
    "dora": dora,
    "galore": galore,
    # beyond the paper, through peft: the cost grid measures them, no claim reads them
    "loha": lambda model, rank, opts: _peft(model, rank, opts, "loha"),
    "lokr": lambda model, rank, opts: _peft(model, rank, opts, "lokr"),
    "oft": lambda model, rank, opts: _peft(model, rank, opts, "oft"),
    "boft": lambda model, rank, opts: _peft(model, rank, opts, "boft"),
    "ia3": lambda model, rank, opts: _peft(model, rank, opts, "ia3"),
}


def apply_method(model: nn.Module, method: str, rank: int | None = None,
                 opts: MethodOptions = MethodOptions()):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return METHODS[method](model, rank, opts)
