"""The loops pretraining and adaptation share: seeded minibatches, train steps, evaluation, BN statistics.

Both repro/learn/zoo.py (pretraining) and repro/learn/training.py (adaptation) import this module, and neither
imports the other's loops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from repro.learn.data.tasks import Split

EVAL_BATCH, BN_BATCH = 512, 256  # images per forward pass of evaluate and reestimate_bn_stats


def _batches(split: Split, batch: int, steps: int, seed: int):
    """`steps` minibatches drawn by epochs of a seeded permutation."""
    g = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < batch:
            order = torch.cat([order, torch.randperm(len(split), generator=g)])
        idx, order = order[:batch], order[batch:]
        yield split.x[idx], split.y[idx]


def set_bn_stats(model: nn.Module, policy: str) -> None:
    model.train()
    if policy == "frozen":
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def train_steps(model, optimizer, split: Split, steps: int, batch: int, seed: int, bn_stats: str = "update",
                scheduler=None, progress: str | None = None, after_step=None) -> None:
    """`after_step(step)`, if given, runs after each step (1-based), e.g. to evaluate checkpoints; it
    must hand the model back in the mode it found it."""
    set_bn_stats(model, bn_stats)
    for step, (x, y) in enumerate(tqdm(_batches(split, batch, steps, seed), total=steps, desc=progress,
                                       disable=progress is None, leave=False), 1):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if after_step is not None:
            after_step(step)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch: int = EVAL_BATCH) -> tuple[float, float]:
    """Accuracy and mean cross-entropy on `split`. The loss moves with any change of the weights, where
    the accuracy of a few hundred images can hide one, so it is what shows that two runs are the same."""
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(split), batch):
        out, y = model(split.x[i:i + batch]), split.y[i:i + batch]
        correct += (out.argmax(1) == y).sum().item()
        loss += F.cross_entropy(out, y, reduction="sum").item()
    return correct / len(split), loss / len(split)


@torch.no_grad()
def reestimate_bn_stats(model: nn.Module, split: Split, batch: int = BN_BATCH) -> None:
    """Replace the running statistics with the target data's (a cumulative average over one pass)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i in range(0, len(split), batch):
        model(split.x[i:i + batch])
    for m, momentum in zip(bns, momenta, strict=True):
        m.momentum = momentum
