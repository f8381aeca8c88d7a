"""Base models pretrained on the source task, cached on disk.

The cache key hashes everything that decides the weights: model, data spec, recipe, library
versions and the kernel set that trains (repro/kernels.py). Files are written atomically (temp file + rename) under
a file lock, so an interrupted run never leaves a file that loads, and concurrent test workers never
train the same model twice.
A file that does not load, or whose key does not match, is reported and rebuilt.

    python -m repro pretrain --model resnet18      # fill the cache ahead of time
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch
import torchvision
from filelock import FileLock

from repro.case.models import build_model
from repro.case.specs import DataSpec, Recipe
from repro.determinism import deterministic, seeded
from repro.files import slug, write_atomic
from repro.kernels import kernel_set
from repro.learn.data import glyphs, source_task
from repro.learn.loops import BN_BATCH, EVAL_BATCH, evaluate, reestimate_bn_stats, train_steps

CACHE_ENV = "REPRO_CACHE_DIR"
ZOO_VERSION = 2  # bump when pretraining code changes in a way the recipe does not capture


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("peft-edge-repro")) / "base-models"


def cache_key(model: str, data: DataSpec, recipe: Recipe) -> str:
    blob = json.dumps({"model": model, "data": dataclasses.asdict(data), "recipe": dataclasses.asdict(recipe),
                       "torch": torch.__version__, "torchvision": torchvision.__version__, "zoo": ZOO_VERSION,
                       # the kernels that train the weights (repro/kernels.py): pinned-avx2 on any x86_64
                       # CPU, else native-<ISA>; ATen's capability alone does not decide them (oneDNN's does)
                       "kernels": kernel_set(), **_glyph_key(data)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _glyph_key(data: DataSpec) -> dict:
    """The glyph source task's renderer version, knobs and files: a change in any retrains."""
    if not data.uses_glyphs:
        return {}
    return {"glyphs": [glyphs.VERSION, repr(glyphs.KNOBS["source"]), glyphs.assets_digest()]}


def pretrain_steps(task, recipe: Recipe) -> int:
    return recipe.epochs * -(-len(task.train) // recipe.batch)


def pretrain(model_name: str, data: DataSpec, recipe: Recipe, progress: bool = True):
    task = source_task(data)
    steps = pretrain_steps(task, recipe)
    start = time.perf_counter()
    with deterministic(), seeded(recipe.seed):  # the caller's random stream is untouched afterwards
        model = build_model(model_name, task.num_classes, data.size)
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        train_steps(model, opt, task.train, steps, recipe.batch, recipe.seed, "update", sched,
                    progress=f"pretrain {model_name}" if progress else None)
        # MobileNetV3's BN momentum is 0.01: after a few hundred steps its running statistics are
        # still near their initial values (chance accuracy in eval mode), so estimate them properly.
        reestimate_bn_stats(model, task.train)
        accuracy, _ = evaluate(model, task.test)
    meta = {"model": model_name, "num_classes": task.num_classes, "test_accuracy": accuracy,
            "seconds": time.perf_counter() - start, "data": data.describe(), "steps": steps}
    return model.state_dict(), meta


@dataclass(frozen=True)
class Timing:
    """What one pretraining's wall time is made of, measured on this machine: seconds from submission
    to the job's start (a spawned worker imports torch), to make the source task, per training step, and
    for the passes after training (BN statistics over the training set, evaluation over the test set)."""

    start: float
    task: float
    step: float
    passes: float
    steps: int

    def seconds(self) -> float:
        return self.start + self.task + self.step * self.steps + self.passes


def time_pretraining(key, window: float = 10.0, warm: int = 25, submitted: float | None = None) -> Timing:
    """Time `key`'s (model, data, recipe) pretraining by its parts: `warm` steps, then steps for at least
    `window` seconds, and one batch of each pass after training. Run side by side with the other models'
    (runs.announce_pretraining), the steps see the same neighbours as the real run's.

    The first steps are slower than the rest: on a 2-core Xeon, MobileNetV2's first 20 took 430 ms each
    and its later ones 290-340 ms, and three steps after one timed that way over-estimated its pretraining
    by a fifth. 10 s of steps also average out most of the drift of a shared machine (a 10-step mean of
    ResNet-18's moved between 540 and 690 ms)."""
    began = time.time()
    model_name, data, recipe = key
    start = time.perf_counter()
    task = source_task(data)
    made = time.perf_counter() - start
    with deterministic(), seeded(recipe.seed):
        model = build_model(model_name, task.num_classes, data.size)
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        train_steps(model, opt, task.train, warm, recipe.batch, recipe.seed)
        steps, start = 0, time.perf_counter()
        while steps < 2 or time.perf_counter() - start < window:
            train_steps(model, opt, task.train, 1, recipe.batch, recipe.seed + steps)
            steps += 1
        per_step = (time.perf_counter() - start) / steps
        passes = 0.0
        for split, batch, mode in ((task.train, BN_BATCH, model.train), (task.test, EVAL_BATCH, model.eval)):
            mode()
            start = time.perf_counter()
            with torch.no_grad():
                model(split.x[:batch])
            passes += (time.perf_counter() - start) * -(-len(split) // batch)
    return Timing(start=0.0 if submitted is None else max(0.0, began - submitted), task=made, step=per_step,
                  passes=passes, steps=pretrain_steps(task, recipe))


def base_model_path(model: str, data: DataSpec = DataSpec(), recipe: Recipe = Recipe(),
                    cache: Path | None = None) -> Path:
    """Where `model`'s base model for `data` and `recipe` is cached (it may not be there yet)."""
    key = cache_key(model, data, recipe)
    return (cache or cache_dir()) / f"{slug(model)}-{key}.pt"


def base_model(model: str, data: DataSpec = DataSpec(), recipe: Recipe = Recipe(), progress: bool = True,
               cache: Path | None = None):
    """(state_dict, meta) of `model` pretrained on the source task: from the cache, or trained now."""
    key = cache_key(model, data, recipe)
    folder = cache or cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder must be
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise ValueError(f"the base-model cache {folder} cannot be made: {blocker} is a file, not a folder; point "
                         f"${CACHE_ENV} at a folder (created if missing), or unset it") from None
    path = base_model_path(model, data, recipe, folder)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob["key"] != key:
                    raise ValueError(f"it holds key {blob['key']}, not {key}")
                return blob["state_dict"], blob["meta"]
            except Exception as err:  # truncated, garbled or foreign: never load it
                warnings.warn(f"base model cache file {path} is unreadable ({err}); rebuilding it", stacklevel=2)
                path.unlink()
        state, meta = pretrain(model, data, recipe, progress)
        write_atomic(path, lambda f: torch.save({"key": key, "state_dict": state, "meta": meta}, f))
        return state, meta


def cache_file(model: str, data: DataSpec, recipe: Recipe) -> tuple[str, bytes]:
    """(file name, contents) of a base model in the cache, pretrained here on a miss: what an engine
    without a shared disk sends its workers (repro/learn/engines.py)."""
    base_model(model, data, recipe, progress=False)
    path = base_model_path(model, data, recipe)
    return path.name, path.read_bytes()


def install(files: dict[str, bytes]) -> None:
    """Put base-model files sent by the engine into this machine's cache, where they are not yet. They
    are checked when loaded (base_model), as any cache file is."""
    folder = cache_dir()
    for name, blob in files.items():
        path = folder / name
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path) + ".lock"):
                if not path.exists():
                    write_atomic(path, lambda f, blob=blob: f.write(blob))

