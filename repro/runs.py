"""Many independent jobs at once: one process per core, each job a function of its spec alone.

Adaptation runs are single-threaded (repro/determinism.py), so their numbers are the same with 1
worker or 16, and a 4-core machine finishes in about half the time of a 2-core one. Analytic cost
cases (fake tensors, repro/fake.py) do no arithmetic: their time is Python dispatch on one core, and
their integers do not depend on the process that counts them.

    results = run_all(specs, workers=None)        # None: $REPRO_WORKERS, else every core
    records = profile_all(analytic_specs)         # repro.profile.profile of each, side by side
"""

from __future__ import annotations

import multiprocessing
import os
import sys
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


def _map(fn, items: list, workers: int, desc: str | None) -> list:
    """`fn` of each item, in their order: here with one worker, else in that many spawned processes
    (spawn, not fork: a forked child inherits torch's thread pools and locks mid-use)."""
    bar = tqdm(total=len(items), desc=f"{desc} ({workers} workers)", disable=desc is None)
    if workers == 1:
        results = []
        for item in items:
            results.append(fn(item))
            bar.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for f in futures:
                f.add_done_callback(lambda _: bar.update())
            results = [f.result() for f in futures]
    bar.close()
    return results


def run_one(spec: AdaptSpec) -> AdaptResult:
    if spec.method == "bn_stats_only":
        return bn_stats_only(spec.model, spec.scenario, spec.data, recipe=spec.recipe, seed=spec.seed)
    return adapt(spec)


def _base_model(key) -> None:
    """base_model for a worker process: it fills the cache and returns nothing, so the weights are not
    sent back through the pipe (the runs load them from the cache)."""
    from repro.zoo import base_model

    base_model(*key, progress=True)


def _prepare(specs, workers: int) -> None:
    """Pretrain (or load) each base model once, before the runs start: otherwise every worker would
    wait on the cache lock while one of them pretrains on one core. Each pretraining is single-threaded
    and a function of its key alone, so different base models pretrain side by side, one per process."""
    pretrain_all(list(dict.fromkeys((s.model, s.data, s.recipe) for s in specs)), workers)


def pretrain_all(needed: list, workers: int | None = None) -> None:
    """Fill the cache with each (model, data, recipe) base model, side by side, one process each."""
    workers = workers or default_workers()
    announce_pretraining(needed, workers)
    _map(_base_model, needed, max(1, min(workers, len(needed))), None)


def announce_pretraining(needed, workers: int) -> None:
    """Before a first run pretrains: which base models, and about how long on this machine (a few of
    each one's steps timed here), so that minutes of progress bars come as no surprise."""
    from repro.zoo import base_model_path, cache_dir, estimate_seconds

    missing = [key for key in needed if not base_model_path(*key).exists()]
    if not missing:
        return
    estimates = {key: estimate_seconds(*key) for key in missing}
    lanes = max(1, min(workers, len(missing)))
    # one core each, side by side: the longest of each round of `lanes` models (an upper bound for more)
    longest = sorted((s for s, _ in estimates.values()), reverse=True)
    total = sum(longest[i] for i in range(0, len(longest), lanes))
    which = ", ".join(f"{model} ({steps} steps, ~{seconds / 60:.0f} min)"
                      for (model, _, _), (seconds, steps) in estimates.items())
    minutes = max(1, round(total / 60))
    print(f"pretraining {len(missing)} base model(s) on {missing[0][1].describe()}, not in the cache yet: {which}; "
          f"{lanes} at a time, one core each: about {minutes} minute{'s' * (minutes != 1)} on this machine. Done "
          f"once: they are kept in {cache_dir()} for every later run.", file=sys.stderr, flush=True)


def run_all(specs: list[AdaptSpec], workers: int | None = None, progress: bool = True) -> list[AdaptResult]:
    """The results of `specs`, in their order."""
    specs = list(specs)
    workers = min(workers or default_workers(), len(specs)) if specs else 1
    _prepare(specs, workers)
    return _map(run_one, specs, workers, "adaptation runs" if progress else None)


def profile_all(specs, workers: int | None = None, progress: bool = True) -> list:
    """repro.profile.profile of each analytic spec, in their order. Only for `analytic` specs: a real
    step is timed, and a timing beside another process's work would be that work's too."""
    from repro.profile import profile

    specs = list(specs)
    if not all(s.analytic for s in specs):
        raise ValueError("profile_all runs analytic specs only: real steps are timed, and timed one at a time")
    workers = min(workers or default_workers(), len(specs)) if specs else 1
    return _map(profile, specs, workers, "analytic cost cases" if progress else None)
