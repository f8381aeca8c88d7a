"""Profiling overhead, as a ratio to one unprofiled training step of the same case.

    pytest benchmarks/test_profiler_overhead.py --benchmark-only --benchmark-group-by=param:case

Within each group pytest-benchmark prints every timing with its ratio to the fastest in
parentheses; the fastest is the plain step, so the ratios are the overheads:
* flop_counting: both conventions, one step;
* memory_tracking: MemTracker's categories, one iteration;
* profiled_update: what `profile` runs, FLOPs and memory in one pass over two iterations
  (so at least 2x), both in one dispatch mode; the target is 5x;
* analytic_update: the same on fake tensors, whose cost does not grow with batch or image size.
Every round starts from a fresh build, as `profile` does. Times are measured, never asserted:
these machines are shared and noisy.
"""

import pytest

from repro.measure.fake import AnalyticMode, to_fake
from repro.measure.flops import count_step_flops
from repro.measure.memory import track_memory
from repro.measure.profile import CaseSpec, build_case, profiled_update, step_phases

CASES = {
    "mobilenet_v2-lora-r8-b8": CaseSpec("mobilenet_v2", "lora", 8, batch=8),
    "mobilenet_v2-fft-b8": CaseSpec("mobilenet_v2", "fft", batch=8),
    "resnet18-lora-r8-b8": CaseSpec("resnet18", "lora", 8, batch=8),
}


def run(phases):
    for phase in phases:
        phase()


def plain(model, optimizer, x, y, phases):
    run(phases)


def flop_counting(model, optimizer, x, y, phases):
    count_step_flops(*phases)


def memory_tracking(model, optimizer, x, y, phases):
    track_memory(model, optimizer, lambda: run(phases), iterations=1, extra=(x, y))


def profiled(model, optimizer, x, y, phases):
    profiled_update(model, optimizer, phases, extra=(x, y))


def analytic(model, optimizer, x, y, phases):
    mode = AnalyticMode()
    x, y = to_fake(mode, model, optimizer, x, y)
    with mode:
        profiled_update(model, optimizer, step_phases(model, optimizer, x, y, "cross_entropy"), extra=(x, y))


@pytest.mark.parametrize("what", [plain, flop_counting, memory_tracking, profiled, analytic],
                         ids=["plain", "flop_counting", "memory_tracking", "profiled_update", "analytic_update"])
@pytest.mark.parametrize("case", list(CASES))
def test_overhead(benchmark, case, what):
    spec = CASES[case]

    def fresh():
        model, optimizer, x, y = build_case(spec)
        phases = step_phases(model, optimizer, x, y, spec.loss)
        if what is plain:
            run(phases)  # the plain step is timed warm: its first step creates the optimizer state
        return (model, optimizer, x, y, phases), {}

    benchmark.pedantic(what, setup=fresh, rounds=5, warmup_rounds=1)
