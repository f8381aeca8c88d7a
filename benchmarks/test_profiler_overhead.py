"""Profiling overhead, as a ratio to one unprofiled training step of the same case.

    pytest benchmarks --benchmark-only --benchmark-group-by=param:case

Within each group pytest-benchmark prints every timing with its ratio to the fastest in
parentheses; the fastest is the plain step, so the ratios are the overheads:
flop_counting (both conventions, one step), memory_tracking (MemTracker, one iteration).
Times are measured, never asserted: these machines are shared and noisy.
"""

import pytest

from repro.flops import count_step_flops
from repro.memory import track_memory
from repro.profile import CaseSpec, build_case, step_phases

CASES = {
    "mobilenet_v2-lora-r8-b8": CaseSpec("mobilenet_v2", "lora", 8, batch=8),
    "mobilenet_v2-fft-b8": CaseSpec("mobilenet_v2", "fft", batch=8),
    "resnet18-lora-r8-b8": CaseSpec("resnet18", "lora", 8, batch=8),
}


def plain(model, optimizer, phases):
    for phase in phases:
        phase()


def flop_counting(model, optimizer, phases):
    count_step_flops(*phases)


def memory_tracking(model, optimizer, phases):
    track_memory(model, optimizer, lambda: plain(model, optimizer, phases), iterations=1)


@pytest.mark.parametrize("what", [plain, flop_counting, memory_tracking], ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", list(CASES))
def test_overhead(benchmark, case, what):
    spec = CASES[case]
    model, optimizer, x, y = build_case(spec)
    phases = step_phases(model, optimizer, x, y, spec.loss)
    benchmark.pedantic(what, args=(model, optimizer, phases), rounds=5, warmup_rounds=1)
