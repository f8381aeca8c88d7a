"""What every benchmark hands the training loop: a task of two splits, and the helpers that make them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # (N, 3, H, W) float in [0, 1]
    y: torch.Tensor  # (N,) int64

    def __len__(self):
        return len(self.y)


@dataclass(frozen=True)
class Task:
    name: str
    train: Split
    test: Split
    num_classes: int
    source: str  # which data it came from, for verdicts: "embedded digits" or a path


def stratified_split(x, y, test_fraction, seed) -> tuple[Split, Split]:
    """A seeded, class-stratified train/test split."""
    g = torch.Generator().manual_seed(seed)
    train_idx, test_idx = [], []
    for c in y.unique().tolist():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = max(1, round(len(idx) * test_fraction))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr, te = torch.cat(train_idx).sort().values, torch.cat(test_idx).sort().values
    return Split(x[tr], y[tr]), Split(x[te], y[te])


def to_rgb(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, h, w) or (N, h, w, 3) in [0, 1] -> (N, 3, size, size)."""
    x = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)
    x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).clamp(0, 1).contiguous()


