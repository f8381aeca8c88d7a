"""Data for the source task and the two adaptation scenarios, offline.

Two embedded benchmarks, no files needed:
* `digits`, the default, which the claims run and the unit tests train on: scikit-learn's 1,797
  real 8x8 handwritten digits, upsampled to size x size RGB. The base models learn digits 0-4 (the
  source task);
* shift: the same classes under CIFAR-10-C corruptions (repro/corruptions.py),
* unseen: digits 5-9, which the base model never saw, behind a new head;
* `glyphs` (repro/glyphs.py), harder and opt-in until calibrated: a 36-class source task and four
  target tasks, shift-easy, shift-hard, unseen-easy, unseen-hard.

Real data, when `data_root` points at a local copy (nothing is downloaded):
    <data_root>/cifar-10-batches-py/   torchvision's CIFAR-10 (source task, 10 classes)
    <data_root>/CIFAR-10-C/            <corruption>.npy (N x 32 x 32 x 3 uint8, 5 severity blocks)
                                       and labels.npy                            (shift)
    <data_root>/vww/person/, vww/no_person/   Visual Wake Words images           (unseen)
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from repro.corruptions import corrupt
from repro.specs import BENCHMARKS, DATA_ROOT_ENV, SCENARIOS, DataSpec, data_root  # noqa: F401 (re-exported)

# The embedded shift: one corruption of each family (noise, blur, weather, digital), severity 5.
SHIFT_MIX = ("gaussian_noise", "defocus_blur", "fog", "contrast")
SHIFT_SEVERITY = 5


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


def _split(x, y, test_fraction, seed) -> tuple[Split, Split]:
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


def _to_rgb(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, h, w) or (N, h, w, 3) in [0, 1] -> (N, 3, size, size)."""
    x = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)
    x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).clamp(0, 1).contiguous()


def digits(size: int = 32, seed: int = 0, classes=range(10), test_fraction: float = 0.25):
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.isin(d.target, list(classes))
    x = _to_rgb(torch.from_numpy(d.images[keep] / 16.0), size)
    y = torch.from_numpy(d.target[keep]).long()
    y = y - min(classes)  # labels start at 0 for every class subset
    return _split(x, y, test_fraction, seed)


def shifted(split: Split, seed: int) -> Split:
    """Each image gets one corruption of SHIFT_MIX, in turn, at SHIFT_SEVERITY."""
    x = split.x.clone()
    for i, name in enumerate(SHIFT_MIX):
        x[i::len(SHIFT_MIX)] = corrupt(split.x[i::len(SHIFT_MIX)], name, SHIFT_SEVERITY, seed + i)
    return Split(x, split.y)


# ---- real datasets --------------------------------------------------------------------------

def _require(path: Path, layout: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"missing {path}; expected layout: {layout}")
    return path


def _read(path: Path, layout: str, reader):
    """reader(path), or one error that names the file and the layout it should have: numpy's and
    pickle's own messages on a truncated or foreign file do not say which file they were reading."""
    try:
        return reader(_require(path, layout))
    except FileNotFoundError:
        raise
    except Exception as err:  # truncated, garbled, pickled where it should not be, another format
        raise ValueError(f"cannot read {path} ({type(err).__name__}: {err}); expected layout: {layout}") from err


CIFAR10_LAYOUT = "cifar-10-batches-py/{data_batch_1..5, test_batch} as torchvision writes them"
CIFAR10C_LAYOUT = "CIFAR-10-C/<corruption>.npy (N x 32 x 32 x 3 uint8, severities 1-5 in 5 equal blocks) and labels.npy"
VWW_LAYOUT = "vww/person/*.{jpg,png} and vww/no_person/*.{jpg,png}"


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")  # Python 2 pickles
    if not {"data", "labels"} <= set(entry):
        raise ValueError(f"a dict with 'data' and 'labels' was expected, found {sorted(entry)[:5]}")
    return entry


def cifar10(root: Path, train: bool, size: int = 32) -> Split:
    """torchvision's CIFAR-10 folder, read directly: torchvision's own class insists on the md5s of
    the full download, which a trimmed or re-packed copy (or a test fixture) does not have."""
    base = root / "cifar-10-batches-py"
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]:
        entry = _read(base / name, CIFAR10_LAYOUT, _unpickle)
        xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.extend(entry["labels"])
    x = torch.from_numpy(np.concatenate(xs)).permute(0, 2, 3, 1) / 255.0
    return Split(_to_rgb(x, size), torch.tensor(ys).long())


def cifar10c(root: Path, corruption: str, severity: int, size: int = 32) -> Split:
    base = root / "CIFAR-10-C"
    images = _read(base / f"{corruption}.npy", CIFAR10C_LAYOUT, lambda p: np.load(p, mmap_mode="r"))
    labels = _read(base / "labels.npy", CIFAR10C_LAYOUT, np.load)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) != len(labels) or len(images) % 5:
        raise ValueError(f"{base / (corruption + '.npy')} has shape {images.shape} with {len(labels)} labels; "
                         f"expected {CIFAR10C_LAYOUT}")
    block = len(images) // 5
    rows = slice((severity - 1) * block, severity * block)
    x = torch.from_numpy(np.array(images[rows])) / 255.0
    return Split(_to_rgb(x, size), torch.from_numpy(labels[rows].astype(np.int64)))


def vww(root: Path, size: int = 32) -> Split:
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    base = root / "vww"
    for cls in ("person", "no_person"):
        _require(base / cls, VWW_LAYOUT)
    tf = v2.Compose([v2.ToImage(), v2.Resize((size, size), antialias=True), v2.ToDtype(torch.float32, scale=True)])
    ds = ImageFolder(str(base), transform=tf)  # classes sorted: no_person = 0, person = 1
    if len(ds) == 0:
        raise FileNotFoundError(f"no images under {base}; expected layout: {VWW_LAYOUT}")
    xs = [_read(Path(path), VWW_LAYOUT, lambda p: tf(ds.loader(str(p)))) for path, _ in ds.samples]
    return Split(torch.stack([x.expand(3, -1, -1) for x in xs]), torch.tensor(ds.targets).long())


# ---- what the base model learns, and what adaptation sees ------------------------------------

GLYPHS = DataSpec(benchmark="glyphs")


def source_task(spec: DataSpec) -> Task:
    if spec.uses_glyphs:
        return _glyph_task("source", spec)
    root = data_root(spec.data_root)
    if root is None:
        train, test = digits(spec.size, spec.seed, classes=range(5))
        return Task("source", train, test, 5, spec.describe())
    return Task("source", cifar10(root, True, spec.size), cifar10(root, False, spec.size), 10, spec.describe())


def _glyph_task(name: str, spec: DataSpec) -> Task:
    from repro import glyphs

    train, test = (Split(*glyphs.split(name, part, spec.size, spec.seed)) for part in ("train", "test"))
    return Task(name, train, test, glyphs.num_classes(name), spec.describe())


def scenario_task(scenario: str, spec: DataSpec) -> Task:
    if scenario not in spec.scenarios:
        raise ValueError(f"unknown scenario {scenario!r} for {spec.describe()}; valid scenarios: "
                         f"{', '.join(spec.scenarios)}")
    if spec.uses_glyphs:
        return _glyph_task(scenario, spec)
    root = data_root(spec.data_root)
    if root is None:
        if scenario == "shift":
            train, test = digits(spec.size, spec.seed, classes=range(5))
            return Task("shift", shifted(train, spec.seed), shifted(test, spec.seed + 100), 5, spec.describe())
        train, test = digits(spec.size, spec.seed, classes=range(5, 10))
        return Task("unseen", train, test, 5, spec.describe())
    if scenario == "shift":
        data = cifar10c(root, spec.corruption, spec.severity, spec.size)
        train, test = _split(data.x, data.y, 0.5, spec.seed)
        return Task("shift", train, test, 10, spec.describe())
    data = vww(root, spec.size)
    train, test = _split(data.x, data.y, 0.25, spec.seed)
    return Task("unseen", train, test, 2, spec.describe())
