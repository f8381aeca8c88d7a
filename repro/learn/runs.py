"""Many independent jobs at once, on the engine the user names (repro/learn/engines.py): this machine's
processes by default, Ray or Slurm where one machine is not enough. Each job is a function of its spec.

Adaptation runs are single-threaded (repro/determinism.py), so their numbers are the same with 1
worker or 16, and a 4-core machine finishes in about half the time of a 2-core one. Analytic cost
cases (fake tensors, repro/measure/fake.py) do no arithmetic: their time is Python dispatch on one core, and
their integers do not depend on the process that counts them.

    results = run_all(specs)                      # local pool: $REPRO_WORKERS, else every core
    results = run_all(specs, engine=make("ray:auto"), store=RunStore("/shared/runs"))
    records = profile_all(analytic_specs)         # repro.measure.profile.profile of each, side by side
"""

from __future__ import annotations

import functools
import sys
import time

from repro.learn.engines import JobsFailed, Local
from repro.learn.training import AdaptResult, AdaptSpec, adapt, bn_stats_only
from repro.learn.zoo import base_model_path, install


def run_one(spec: AdaptSpec) -> AdaptResult:
    if spec.method == "bn_stats_only":
        return bn_stats_only(spec.model, spec.scenario, spec.data, recipe=spec.recipe, seed=spec.seed)
    return adapt(spec)


def _base_model(key) -> None:
    """base_model for a worker process: it fills the cache and returns nothing, so the weights are not
    sent back through the pipe (the runs load them from the cache)."""
    from repro.learn.zoo import base_model

    base_model(*key, progress=True)


def _base_model_file(key) -> tuple[str, bytes]:
    from repro.learn.zoo import cache_file

    return cache_file(*key)


def pretrain_all(needed: list, workers: int | None = None, engine=None) -> dict[str, bytes]:
    """Fill the cache with each (model, data, recipe) base model, side by side, one job each, once and
    before any run needs it. An engine whose workers share no disk (Ray) gets every file back, to send
    to the runs: {file name: contents}; else {} (the workers read the cache, shared on Slurm)."""
    engine = engine or Local(workers)
    needed = list(dict.fromkeys(needed))
    # only what this machine's cache lacks: a worker's own cache (Ray's nodes) may lack what is here, and would
    # pretrain it again (a glyph base model: half an hour) for a file this machine has; elsewhere, a job that
    # finds its base model in the shared cache is a worker's start for nothing
    missing = [key for key in needed if not base_model_path(*key).exists()]
    if missing:
        announce_pretraining(missing, engine.at_once(len(missing)))
    if engine.ships_files:
        files = dict(engine.map(_base_model_file, missing, per_job=1))
        install(files)  # this machine's cache too: what reads a base model here finds it
        return files | dict(_base_model_file(key) for key in needed if key not in missing)
    engine.map(_base_model, missing, per_job=1)  # side by side: one job each
    return {}


def announce_pretraining(needed, workers: int) -> None:
    """Before a first run pretrains: which base models, and about how long on this machine, so that
    minutes of progress bars come as no surprise. The parts of each pretraining are timed as the real
    run will make them: side by side in spawned workers, one core each (repro/learn/zoo.py)."""
    from repro.learn.zoo import cache_dir, time_pretraining

    missing = [key for key in needed if not base_model_path(*key).exists()]
    if not missing:
        return
    lanes = max(1, min(workers, len(missing)))
    print(f"pretraining {len(missing)} base model(s) on {missing[0][1].describe()}, not in the cache yet; "
          f"timing some steps of each first, {lanes} at a time as they will run (under a minute) ...",
          file=sys.stderr, flush=True)
    timed = Local(lanes).map(functools.partial(time_pretraining, submitted=time.time()), missing, per_job=1)
    ends = finish_times([t.seconds() for t in timed], lanes)
    which = ", ".join(f"{model} ({t.steps} steps, done after ~{end / 60:.0f} min)"
                      for (model, _, _), t, end in zip(missing, timed, ends, strict=True))
    minutes = max(1, round(max(ends) / 60))
    print(f"pretraining {which}; {lanes} at a time, one core each: about {minutes} minute{'s' * (minutes != 1)} on "
          f"this machine. Done once: they are kept in {cache_dir()} for every later run.", file=sys.stderr, flush=True)


def finish_times(seconds: list[float], lanes: int) -> list[float]:
    """When each job ends, the jobs taken in their order by `lanes` workers, each lasting its `seconds` (as
    timed beside the others: a job left alone at the end runs a little faster, by 7% for ResNet-18 on a
    2-core Xeon)."""
    free, ends = [0.0] * lanes, []
    for s in seconds:
        start = min(free)
        free[free.index(start)] = start + s
        ends.append(start + s)
    return ends


def run_all(specs: list[AdaptSpec], workers: int | None = None, progress: bool = True, engine=None,
            store=None) -> list[AdaptResult]:
    """The results of `specs`, in their order, made on `engine` (None: the local pool). With a `store`
    (repro/learn/runstore.py) each finished run is kept as it arrives, and runs already kept are not made again."""
    specs = list(specs)
    engine = engine or Local(workers)
    kept = {s: store.get(s) for s in specs} if store is not None else {}
    todo = list(dict.fromkeys(s for s in specs if kept.get(s) is None))
    if store is not None and len(todo) < len(specs):
        print(f"{len(specs) - len(todo)} of {len(specs)} runs already made, kept in {store.folder}: "
              f"making the other {len(todo)}", file=sys.stderr, flush=True)
    files = pretrain_all([(s.model, s.data, s.recipe) for s in todo], engine=engine)
    on_result = (lambda spec, result: store.put(spec, result)) if store is not None else None
    try:
        made = dict(zip(todo, engine.map(run_one, todo, "adaptation runs" if progress else None, on_result, files),
                        strict=True))
    except JobsFailed as err:
        if store is None:
            raise
        raise JobsFailed(engine.name, err.failures, len(todo),
                         f"the finished runs are kept in {store.folder}: the same command again makes only the "
                         f"{len(err.failures)} missing") from err
    return [kept.get(s) or made[s] for s in specs]


def profile_all(specs, workers: int | None = None, progress: bool = True, engine=None) -> list:
    """repro.measure.profile.profile of each analytic spec, in their order. Only for `analytic` specs: a real
    step is timed, and a timing beside another process's work would be that work's too."""
    from repro.measure.profile import profile

    specs = list(specs)
    if not all(s.analytic for s in specs):
        raise ValueError("profile_all runs analytic specs only: real steps are timed, and timed one at a time")
    return (engine or Local(workers)).map(profile, specs, "analytic cost cases" if progress else None)
