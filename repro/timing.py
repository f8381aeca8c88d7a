"""Measured step time against full fine-tuning: what a counted saving becomes in seconds on this machine.

    time_against_fft(CaseSpec("mobilenet_v2", "lora", 8))   # flat record: time.reduction and its interval

The method's step and FFT's step are built in one process and timed in alternation, round after round,
the order swapped every round, so whatever else the machine does (other jobs, clocks, a second xdist
worker) falls on both alike. Each round gives one ratio method / FFT; the reduction's 95% interval
comes from the rounds' log ratios (a ratio's noise is multiplicative). Only steady-state steps are
timed: the first steps warm the allocator and the kernels, and GaLore's SVD, made at its first step,
comes again only every `update_proj_gap` (200) steps.

On CUDA each step is timed with CUDA events after a synchronisation, so the reading is the GPU's
time for the step, not the launch queue's.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time

import torch

from repro.determinism import seeded
from repro.profile import build_case, step_phases
from repro.specs import CaseSpec
from repro.stats import summarize

ROUNDS = {32: 15, 224: 6}  # rounds per input size; a 224 x 224 step is ~50x a 32 x 32 one on a CPU
WARMUP = 2


def step_timer(spec: CaseSpec):
    """A callable that runs one unprofiled update of the case and returns its seconds."""
    model, optimizer, x, y = build_case(spec)
    phases = step_phases(model, optimizer, x, y, spec.loss)

    def run():
        for phase in phases:
            phase()

    if not spec.device.startswith("cuda"):
        def timed() -> float:
            start = time.perf_counter()
            run()
            return time.perf_counter() - start
        return timed

    def timed_cuda() -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(spec.device)
        start.record()
        run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    return timed_cuda


def time_against_fft(specs: list[CaseSpec], rounds: int | None = None, warmup: int = WARMUP) -> dict[str, dict]:
    """Each case's step time against FFT's, as flat records (baseline group `times`) by case key.

    The cases share one FFT reference and one loop: every round times each of them once, FFT
    included, in an order rotated by one each round, and divides each case's time by that round's
    FFT time. So the cases must differ only in method and rank (one model, input size, batch, device).
    """
    if not specs:
        return {}
    ref = _reference(specs[0])
    for spec in specs:
        if spec.analytic:
            raise ValueError(f"{spec.key} is analytic (fake tensors): there is no time to measure; time the real step")
        if spec.method == "fft":
            raise ValueError("FFT is the reference every case is timed against; time other methods")
        if _reference(spec) != ref:
            raise ValueError(f"{spec.key} and {specs[0].key} differ in more than method and rank: time them apart")
    rounds = rounds or ROUNDS.get(ref.size, ROUNDS[32])
    if rounds < 2:
        raise ValueError(f"an interval needs at least 2 rounds, got {rounds}")
    with seeded(ref.seed):
        timers = {"fft": step_timer(ref)} | {spec.key: step_timer(spec) for spec in specs}
        names = list(timers)
        for _ in range(warmup):
            for timer in timers.values():
                timer()
        seconds = {name: [] for name in names}
        for i in range(rounds):
            for name in names[i % len(names):] + names[:i % len(names)]:
                seconds[name].append(timers[name]())
    return {name: _record(seconds[name], seconds["fft"]) for name in names[1:]}


def _record(method: list[float], fft: list[float]) -> dict:
    logs = summarize([math.log(m / f) for m, f in zip(method, fft, strict=True)])
    return {
        "time.step_seconds": statistics.median(method),
        "time.fft_step_seconds": statistics.median(fft),
        # reduction = 1 - method/FFT: the same sign as the FLOP and memory reductions
        "time.reduction": 1 - math.exp(logs.mean),
        "time.reduction_lo": 1 - math.exp(logs.hi),
        "time.reduction_hi": 1 - math.exp(logs.lo),
        "time.rounds": len(method),
        "time.threads": torch.get_num_threads(),
    }


class Timings:
    """Step times of the grid's cases (repro/grid.py TIME_CASES), one group timed at a time and once.

    Asked for one case, it times the case's whole group (the grid's cases of its model, size, batch
    and device): they share one FFT reference and one loop, so asking for them in any order, or for
    one alone with -k, gives a case the same company. A case off the grid is timed alone with FFT.
    """

    def __init__(self, cases=None, rounds: int | None = None):
        if cases is None:
            from repro.grid import TIME_CASES as cases
        self.cases, self.rounds = tuple(cases), rounds
        self._done: dict[str, dict] = {}

    def __call__(self, spec: CaseSpec) -> dict:
        if spec.key not in self._done or self._done[spec.key]["spec"] != spec:
            group = [dataclasses.replace(c, device=spec.device) for c in self.cases]
            group = [c for c in group if _reference(c) == _reference(spec)] if spec in group else [spec]
            records = time_against_fft(group, self.rounds)
            self._done |= {c.key: {"spec": c, "record": records[c.key]} for c in group}
        return self._done[spec.key]["record"]


def _reference(spec: CaseSpec) -> CaseSpec:
    return dataclasses.replace(spec, method="fft", rank=None)
