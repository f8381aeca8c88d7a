"""What an engine costs per run against the local pool, and what a second Ray worker buys.

    python benchmarks/engines.py                 # 6 glyph runs on each engine, one after the other
    python benchmarks/engines.py --runs 4 --engines local ray
    python benchmarks/engines.py --runs 4 --engines local slurm ray:auto --cluster-cpus 2   # real engines

Each engine makes the same glyph runs (MobileNetV2, the accuracy protocol, the calibrated tasks) with
one worker, then local and Ray with two, and every engine's numbers must equal the local pool's (a
difference is printed and the exit status is 1). What an engine adds to the runs' own seconds (as
each run timed itself) splits in two: its start (a fresh engine's time to return one job that imports
what a run imports: Ray's instance, a worker, torch and peft), paid once per command, and the rest,
paid per run, read against a glyph run's own time. A cluster (`slurm`, `ray:auto`, `ray://...`) runs as
many runs at once as it has CPUs (`--cluster-cpus`): its wall is read against the local pool's with as
many workers. Seconds on a shared machine move; ratios measured in one run are what to compare.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            info = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in f) if v}
        simd = "AVX-512" if "avx512f" in info.get("flags", "").split() else "AVX2 only"
        family, model = info.get("cpu family", "?"), info.get("model", "?")
        return f"{info.get('model name', '?')} (family {family} model {model}, {simd})"
    except OSError:
        return platform.processor() or platform.machine()


def imports(_):
    """What a worker does before its first run: torch, peft and the suite."""
    import repro.learn.runs  # noqa: F401

    return 0


def main() -> int:
    from tabulate import tabulate

    from repro.case.grid import accuracy_run
    from repro.case.specs import DataSpec
    from repro.learn import engines
    from repro.learn.runs import run_all

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--engines", nargs="+", default=["local", "ray", "slurm:local"])
    ap.add_argument("--cluster-cpus", type=int, default=2, help="CPUs of the running cluster that slurm, ray:auto "
                    "and ray://... name (default 2: .ci/slurm-local's node, or two Ray nodes of one CPU)")
    args = ap.parse_args()

    data = DataSpec(benchmark="glyphs")
    cases = [("lora", "shift-hard"), ("bn_head", "shift-easy"), ("fft", "unseen-hard")]
    specs = [accuracy_run("mobilenet_v2", method, task, seed, data)
             for seed in range(-(-args.runs // len(cases))) for method, task in cases][:args.runs]
    run_all(specs[:1], workers=1, progress=False)  # the base model in the cache, and the page cache warm

    rows, reference, differ = [], None, False
    def cluster(name):
        return name == "slurm" or name.startswith(("ray:", "ray://"))

    plan = [(name, args.cluster_cpus if cluster(name) else 1) for name in args.engines]
    plan += [(name, 2) for name in ("local", "ray") if name in args.engines]
    if any(cluster(name) for name in args.engines) and ("local", args.cluster_cpus) not in plan:
        plan.append(("local", args.cluster_cpus))
    walls = {}
    for name, workers in plan:
        engine = engines.make(name, workers=workers)
        try:
            start = time.perf_counter()
            engine.map(imports, [0], per_job=1)  # a fresh engine's start
            started = time.perf_counter() - start
        finally:
            engine.close()
        engine = engines.make(name, workers=workers)
        start = time.perf_counter()
        try:
            # as the suite makes them: a cluster whose nodes share no disk is sent the base model
            results = run_all(specs, progress=False, engine=engine)
        finally:
            engine.close()
        wall = walls[name, workers] = time.perf_counter() - start
        own = sum(r.seconds for r in results) / len(specs)
        numbers = [(r.before, r.after, r.loss_after, r.curve) for r in results]
        reference = reference or numbers
        differ |= numbers != reference
        per_run = (wall - started) / len(specs) * workers - own  # what is left, per run, beyond the start
        # read with one worker only: with two, the wall is the slower worker's share (runs differ in length)
        rows.append([name, workers, len(specs), f"{wall:.1f}", f"{own:.1f}", f"{started:.1f}",
                     f"{per_run:+.2f}" if workers == 1 else "", f"{100 * per_run / own:+.1f}%" if workers == 1 else "",
                     "yes" if numbers == reference else "NO"])
        print(f"{name} x{workers}: {wall:.1f} s", file=sys.stderr, flush=True)
    for r in rows:
        one, two, local = walls.get((r[0], 1)), walls.get((r[0], 2)), walls.get(("local", r[1]))
        r.append(f"{one / two:.2f}x" if r[1] == 2 and one else "")
        r.append(f"{walls[r[0], r[1]] / local:.2f}x" if local and r[0] != "local" else "")
    print(f"CPU: {cpu_name()}")
    print(tabulate(rows, headers=["engine", "workers", "runs", "wall s", "s per run (own)", "start s (once)",
                                  "s per run beyond start", "of a run", "equal to local", "speed-up 1->2",
                                  "wall / local's, as many workers"]))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
