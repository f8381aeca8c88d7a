"""Real data, read from a local copy under the data root (nothing is downloaded):

    <data_root>/cifar-10-batches-py/   torchvision's CIFAR-10 (source task, 10 classes)
    <data_root>/CIFAR-10-C/            <corruption>.npy (N x 32 x 32 x 3 uint8, 5 severity blocks)
                                       and labels.npy                            (shift)
    <data_root>/vww/person/, vww/no_person/   Visual Wake Words images           (unseen)
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from repro.case.specs import DataSpec, data_root
from repro.learn.data.tasks import Split, Task, stratified_split, to_rgb


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
    return Split(to_rgb(x, size), torch.tensor(ys).long())


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
    return Split(to_rgb(x, size), torch.from_numpy(labels[rows].astype(np.int64)))


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


def source(spec: DataSpec) -> Task:
    root = data_root(spec.data_root)
    return Task("source", cifar10(root, True, spec.size), cifar10(root, False, spec.size), 10, spec.describe())


def scenario(name: str, spec: DataSpec) -> Task:
    root = data_root(spec.data_root)
    if name == "shift":
        data = cifar10c(root, spec.corruption, spec.severity, spec.size)
        train, test = stratified_split(data.x, data.y, 0.5, spec.seed)
        return Task("shift", train, test, 10, spec.describe())
    data = vww(root, spec.size)
    train, test = stratified_split(data.x, data.y, 0.25, spec.seed)
    return Task("unseen", train, test, 2, spec.describe())
