"""Many adaptation runs at once: one single-threaded run per process, as many processes as cores.

Each run is a function of its spec alone and uses one thread (repro/determinism.py), so the numbers
are the same with 1 worker or 16, and a 4-core machine finishes in about half the time of a 2-core one.

    results = run_all(specs, workers=None)   # None: $REPRO_WORKERS, else every core
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from tqdm.auto import tqdm

from repro.training import AdaptResult, AdaptSpec, adapt, bn_stats_only

WORKERS_ENV = "REPRO_WORKERS"


def default_workers() -> int:
    value = os.environ.get(WORKERS_ENV)
    if value is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${WORKERS_ENV} must be a positive integer, got {value!r}")
    return int(value)


def run_one(spec: AdaptSpec) -> AdaptResult:
    if spec.method == "bn_stats_only":
        return bn_stats_only(spec.model, spec.scenario, spec.data, recipe=spec.recipe, seed=spec.seed)
    return adapt(spec)


def _base_model(model, data, recipe) -> None:
    """base_model for a worker process: it fills the cache and returns nothing, so the weights are not
    sent back through the pipe (the runs load them from the cache)."""
    from repro.zoo import base_model

    base_model(model, data, recipe, progress=True)


def _prepare(specs, workers: int) -> None:
    """Pretrain (or load) each base model once, before the runs start: otherwise every worker would
    wait on the cache lock while one of them pretrains on one core. Each pretraining is single-threaded
    and a function of its key alone, so different base models pretrain side by side, one per process."""
    needed = list(dict.fromkeys((s.model, s.data, s.recipe) for s in specs))
    if workers == 1 or len(needed) < 2:
        for args in needed:
            _base_model(*args)
        return
    with ProcessPoolExecutor(min(workers, len(needed)), mp_context=multiprocessing.get_context("spawn")) as pool:
        for f in [pool.submit(_base_model, *args) for args in needed]:
            f.result()


def run_all(specs: list[AdaptSpec], workers: int | None = None, progress: bool = True) -> list[AdaptResult]:
    """The results of `specs`, in their order."""
    specs = list(specs)
    workers = min(workers or default_workers(), len(specs)) if specs else 1
    _prepare(specs, workers)
    bar = tqdm(total=len(specs), desc=f"adaptation runs ({workers} workers)", disable=not progress)
    if workers == 1:
        results = []
        for spec in specs:
            results.append(run_one(spec))
            bar.update()
        bar.close()
        return results
    # spawn, not fork: a forked child inherits torch's thread pools and locks mid-use
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, spec) for spec in specs]
        for f in futures:
            f.add_done_callback(lambda _: bar.update())
        results = [f.result() for f in futures]
    bar.close()
    return results
