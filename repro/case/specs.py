"""What a case is: frozen specs, torch-free, each with the one key that names it everywhere.

A key is what baselines, results.json, the report and the test ids call a case, so a stored record
can be found again from its spec without building anything:

    CaseSpec("mobilenet_v2", "lora", 8).key                    mobilenet_v2-lora-r8
    CaseSpec("mobilenet_v2", "lora", 8, batch=32, size=224).key  mobilenet_v2-lora-r8-b32-224px
    AdaptSpec("resnet18", "fft", None, "shift", seed=3).key    resnet18-fft-shift (a case spans seeds)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from repro.case.groups import accuracy_group
from repro.case.protocol import BENCHMARKS, DIGITS_PROTOCOL, GLYPH_PROTOCOL

DATA_ROOT_ENV = "REPRO_DATA_ROOT"
SCENARIOS = ("shift", "unseen")  # digits and real data
GLYPH_TASKS = ("shift-easy", "shift-hard", "unseen-easy", "unseen-hard")


def data_root(explicit: str | Path | None = None) -> Path | None:
    """--data-root, else $REPRO_DATA_ROOT, else None (the embedded default)."""
    root = explicit or os.environ.get(DATA_ROOT_ENV)
    if not root:
        return None
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data root {root} is not a directory; create it or drop --data-root "
                                f"(and ${DATA_ROOT_ENV}) to use the embedded default")
    return root


@dataclass(frozen=True)
class DataSpec:
    size: int = 32
    seed: int = 0
    data_root: str | None = None
    corruption: str = "gaussian_noise"  # real-data shift: which CIFAR-10-C corruption
    severity: int = 5
    benchmark: str = "digits"  # the embedded data when data_root is None: BENCHMARKS

    def __post_init__(self):
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; valid benchmarks: {', '.join(BENCHMARKS)}")

    def describe(self) -> str:
        return f"real data under {self.data_root}" if self.data_root else f"embedded {self.benchmark}"

    @property
    def scenarios(self) -> tuple[str, ...]:
        return GLYPH_TASKS if self.uses_glyphs else SCENARIOS

    def tasks(self, model: str) -> tuple[str, ...]:
        """The tasks the accuracy grid runs `model` on and the claims read it on: its protocol's
        calibrated cells, or every scenario where the protocol names none."""
        cells = self.protocol.cells
        return tuple(cells.get(model, ())) if cells else self.scenarios

    @property
    def uses_glyphs(self) -> bool:
        """The glyph benchmark, unless a data root (here or in $REPRO_DATA_ROOT) points at real data."""
        return self.benchmark == "glyphs" and data_root(self.data_root) is None

    @property
    def protocol(self):
        """The accuracy protocol its runs follow (repro/case/protocol.py)."""
        return GLYPH_PROTOCOL if self.uses_glyphs else DIGITS_PROTOCOL

    @property
    def group(self) -> str:
        """The baseline group its accuracy cases are stored in."""
        return accuracy_group(None if self.data_root is not None else self.benchmark)


GLYPHS = DataSpec(benchmark="glyphs")


@dataclass(frozen=True)
class Recipe:
    """How a base model is pretrained on the source task."""
    epochs: int = 15
    batch: int = 64
    lr: float = 2e-3  # AdamW, cosine-annealed to 0
    weight_decay: float = 5e-4
    seed: int = 0


@dataclass(frozen=True)
class MethodOptions:
    """Knobs shared by the methods. Defaults follow the paper author's code where it is known."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    lora_alpha: float | None = None  # None: alpha = rank, so the adapter's scaling is 1 at every rank
    lora_dropout: float = 0.0  # > 0 makes peft's DoRA run the base conv twice (+60-73% forward FLOPs)
    targets: str = "pointwise+regular"
    head: str | None = None  # the classifier head's module name; None: the last Linear (--head)
    update_proj_gap: int = 200  # GaLore: SVD every this many steps (author's fork default)
    galore_scale: float = 1.0


def _rank(rank) -> str:
    return f"-r{rank}" if rank is not None else ""


@dataclass(frozen=True)
class CaseSpec:
    """One profiled update (repro/measure/profile.py)."""
    model: str
    method: str
    rank: int | None = None
    batch: int = 8
    size: int = 32
    num_classes: int = 10
    seed: int = 0
    optimizer: str = "adamw"
    lr: float = 1e-3
    loss: str = "cross_entropy"
    targets: str = "pointwise+regular"
    head: str | None = None  # the classifier head's module name; None: the last Linear
    lora_dropout: float = 0.0
    update_proj_gap: int = 200
    device: str = "cpu"
    analytic: bool = False  # run the step on fake tensors: exact FLOPs and memory, no data, no timing

    @property
    def key(self) -> str:
        """Batch and size are named where they are not 8 and 32, and every other field that changes a
        cost where it is not the default; device, seed, lr and `analytic` change none (a platform has
        its own baselines, and fake tensors give the real step's numbers)."""
        scale = f"-b{self.batch}-{self.size}px" if (self.batch, self.size) != (8, 32) else ""
        extra = "".join(f"-{name}{value}" for name, value, default in (
            ("classes", self.num_classes, 10), ("", self.optimizer, "adamw"), ("loss-", self.loss, "cross_entropy"),
            ("targets-", self.targets, "pointwise+regular"), ("head-", self.head, None),
            ("dropout", self.lora_dropout, 0.0)) if value != default)
        return f"{self.model}-{self.method}{_rank(self.rank)}{scale}{extra}"

    def options(self) -> MethodOptions:
        return MethodOptions(optimizer=self.optimizer, lr=self.lr, lora_dropout=self.lora_dropout,
                             targets=self.targets, update_proj_gap=self.update_proj_gap, head=self.head)


@dataclass(frozen=True)
class AdaptSpec:
    """One adaptation run (repro/learn/training.py)."""
    model: str
    method: str
    rank: int | None = None
    scenario: str = "shift"
    steps: int = 100
    batch: int = 32
    lr: float | None = None  # None: the method's own (repro/learn/training.py LR)
    bn_stats: str | None = None  # "update" or "frozen"; None: the method's own (BN_STATS)
    seed: int = 0
    data: DataSpec = field(default_factory=DataSpec)
    recipe: Recipe = field(default_factory=Recipe)  # how the base model was pretrained
    head: str | None = None  # the classifier head's module name; None: the last Linear
    checkpoints: tuple[int, ...] = ()  # steps after which the test accuracy is also read (a learning curve)

    @property
    def key(self) -> str:
        """The case, not the run: a case's record holds every seed of the accuracy protocol
        (repro/case/grid.py), and its data has a baseline group of its own (DataSpec.group)."""
        return f"{self.model}-{self.method}{_rank(self.rank)}-{self.scenario}"
