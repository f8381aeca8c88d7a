"""Measured step time against full fine-tuning: what a counted saving becomes in seconds on this machine.

    time_against_fft(CaseSpec("mobilenet_v2", "lora", 8))   # flat record: time.reduction and its interval

The method's step and FFT's step are built in one process, the two alone, and timed in alternation,
round after round, the order swapped every round, so whatever else the machine does (other jobs,
clocks, a second xdist worker) falls on both alike. Each round gives one ratio method / FFT; the
reduction's 95% interval comes from the rounds' log ratios (a ratio's noise is multiplicative).

Two models, not a group: timing a model's 17 cases in one loop against one FFT (18 models alive)
made every step slower and the adapters most (MobileNetV2 LoRA r8 at 1.5x FFT, against 1.1x as a
pair), whether or not the cyclic collector ran. The cause was not isolated (caches that then hold no
model's working set, oneDNN's cache of conv kernels, are the likely ones); a case's reading must not
depend on its company, so each case has its own FFT.

Only steady-state steps are timed: the first steps warm the allocator and the kernels, and GaLore's
SVD, made at its first step, comes again only every `update_proj_gap` (200) steps.

On CUDA each step is timed with CUDA events recorded around it after a synchronisation: the span
on the GPU's timeline from the step's start to its last kernel's end, waits for the CPU to launch
kernels included (a batch-8 step on a large GPU is launch-bound), never the time to queue the launches.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import statistics

import torch

from repro import kernels
from repro.case.specs import CaseSpec
from repro.determinism import seeded
from repro.measure.clock import seconds
from repro.measure.profile import build_case, step_phases
from repro.stats import summarize

ROUNDS = {32: 12, 224: 6}  # per input size, set by the time the grid may add to a claims run (docs/history.md)
WARMUP = 2


def step_timer(spec: CaseSpec):
    """A callable that runs one unprofiled update of the case and returns its seconds."""
    model, optimizer, x, y = build_case(spec)
    phases = step_phases(model, optimizer, x, y, spec.loss)

    def run():
        for phase in phases:
            phase()

    return lambda: seconds(run, spec.device)


def time_against_fft(spec: CaseSpec, rounds: int | None = None, warmup: int = WARMUP) -> dict:
    """The case's step time against FFT's, as a flat record (baseline group `times`)."""
    if spec.analytic:
        raise ValueError(f"{spec.key} is analytic (fake tensors): there is no time to measure; time the real step")
    if spec.method == "fft":
        raise ValueError("FFT is the reference every case is timed against; time another method")
    rounds = rounds or ROUNDS.get(spec.size, ROUNDS[32])
    if rounds < 2:
        raise ValueError(f"an interval needs at least 2 rounds, got {rounds}")
    seconds = {"method": [], "fft": []}
    with seeded(spec.seed):
        timers = {"method": step_timer(spec), "fft": step_timer(dataclasses.replace(spec, method="fft", rank=None))}
        # Python's cyclic collector runs when allocations pass a threshold, and a pass costs more the more
        # objects the process holds (whatever ran before): paused, and run between rounds, it times nothing
        paused = gc.isenabled()
        gc.disable()
        try:
            for _ in range(warmup):
                for timer in timers.values():
                    timer()
            for i in range(rounds):
                gc.collect(1)
                for name in ("method", "fft") if i % 2 == 0 else ("fft", "method"):
                    seconds[name].append(timers[name]())
        finally:
            if paused:
                gc.enable()
    method, fft = seconds["method"], seconds["fft"]
    logs = summarize([math.log(m / f) for m, f in zip(method, fft, strict=True)])
    return {
        "time.step_seconds": statistics.median(method),
        "time.fft_step_seconds": statistics.median(fft),
        # reduction = 1 - method/FFT: the same sign as the FLOP and memory reductions
        "time.reduction": 1 - math.exp(logs.mean),
        "time.reduction_lo": 1 - math.exp(logs.hi),
        "time.reduction_hi": 1 - math.exp(logs.lo),
        "time.rounds": rounds,
        "time.threads": torch.get_num_threads(),
    }


def timed_once(rounds: int | None = None, native: bool | None = None):
    """time_against_fft memoised: each case timed once per session (the tests and the claims read the same
    record). Read with this CPU's own kernels: where this process trains with the pinned ones and they
    differ (an AVX-512 CPU, repro/kernels.py), in one worker process of its own that drops the pin."""
    native = kernels.times_natively_elsewhere() if native is None else native
    if not native:
        return functools.cache(lambda spec: time_against_fft(spec, rounds))
    pool = None

    def elsewhere(spec):
        nonlocal pool
        if spec.device.startswith("cuda"):  # GPU kernels do not follow the CPU pin
            return time_against_fft(spec, rounds)
        pool = pool or kernels.native_pool()
        return pool.submit(time_against_fft, spec, rounds).result()
    return functools.cache(elsewhere)
