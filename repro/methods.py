"""Fine-tuning methods: which parameters train, how, and with which optimizer.

Each entry of METHODS takes (model, rank, opts) and returns (model ready to train, optimizer).
Adding a method is one function and one entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from repro.models import head_name, is_depthwise

TARGET_POLICIES = ("pointwise+regular", "all")
OPTIMIZERS = ("adamw", "sgd")


@dataclass(frozen=True)
class MethodOptions:
    """Knobs shared by the methods. Defaults follow the paper author's code where it is known."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    lora_alpha: float | None = None  # None: alpha = rank, so the adapter's scaling is 1 at every rank
    lora_dropout: float = 0.0  # > 0 makes peft's DoRA run the base conv twice (+60-73% forward FLOPs)
    targets: str = "pointwise+regular"
    update_proj_gap: int = 200  # GaLore: SVD every this many steps (author's fork default)
    galore_scale: float = 1.0


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
    trainable = list(model.get_submodule(head_name(model)).parameters())
    return _freeze_all_but(model, trainable), _optimizer(trainable, opts)


def bn_head(model, rank, opts):
    _no_rank("bn_head", rank)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    trainable = [p for m in bns for p in m.parameters()]
    trainable += list(model.get_submodule(head_name(model)).parameters())
    return _freeze_all_but(model, trainable), _optimizer(trainable, opts)


def lora_targets(model: nn.Module, policy: str) -> dict[str, nn.Module]:
    """Layers that get an adapter, by name. The head is not among them: it trains fully."""
    if policy not in TARGET_POLICIES:
        raise ValueError(f"unknown target policy {policy!r}; valid policies: {', '.join(TARGET_POLICIES)}")
    skip = head_name(model)
    out = {}
    for name, m in model.named_modules():
        if name == skip or not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        if policy == "all" or not is_depthwise(m):
            out[name] = m
    return out


def _adapter_dim(m: nn.Module) -> int:
    if isinstance(m, nn.Linear):
        return min(m.in_features, m.out_features)
    return min(m.in_channels, m.out_channels)


def _lora(model, rank, opts, use_dora: bool):
    from peft import LoraConfig, get_peft_model

    method = "dora" if use_dora else "lora"
    targets = lora_targets(model, opts.targets)
    _check_rank(method, rank, {n: _adapter_dim(m) for n, m in targets.items()})
    grouped = {n: m.groups for n, m in targets.items() if isinstance(m, nn.Conv2d) and m.groups > 1}
    bad = [n for n, g in grouped.items() if rank % g]
    if bad:
        # peft adapts a grouped conv only when the rank is a multiple of its groups
        step = math.lcm(*grouped.values())
        largest = max(_adapter_dim(m) for m in targets.values())
        works = (f"ranks that work for every layer are multiples of {step}" if step <= largest else
                 f"no rank up to {largest} divides every layer's groups (their lcm is {step})")
        raise ValueError(f"rank {rank} cannot adapt grouped conv {bad[0]} (groups={grouped[bad[0]]}) "
                         f"with --targets all: peft needs the rank divisible by groups; {works}; "
                         f"or use --targets pointwise+regular")
    config = LoraConfig(
        r=rank,
        lora_alpha=opts.lora_alpha if opts.lora_alpha is not None else rank,
        lora_dropout=opts.lora_dropout,
        target_modules=list(targets),
        modules_to_save=[head_name(model)],
        use_dora=use_dora,
    )
    model = get_peft_model(model, config)
    return model, _optimizer(model.parameters(), opts)


def lora(model, rank, opts):
    return _lora(model, rank, opts, use_dora=False)


def dora(model, rank, opts):
    return _lora(model, rank, opts, use_dora=True)


def galore(model, rank, opts):
    from repro.galore import GaLoreAdamW, matrix_shape

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


METHODS = {
    "fft": fft,
    "bn_head": bn_head,
    "head": head,
    "lora": lora,
    "dora": dora,
    "galore": galore,
}
RANKED = ("lora", "dora", "galore")


def apply_method(model: nn.Module, method: str, rank: int | None = None,
                 opts: MethodOptions = MethodOptions()):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return METHODS[method](model, rank, opts)
