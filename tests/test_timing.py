"""Step time against FFT (repro/measure/timing.py): interleaved rounds against the case's own FFT, an
interval from the rounds. Seconds are never asserted (a shared machine is noisy): only that a record is
complete, consistent and made the way it says."""

import dataclasses

import pytest

from repro.case.specs import CaseSpec
from repro.measure.timing import time_against_fft, timed_once

CASE = CaseSpec("mobilenet_v3_small", "lora", 4)


def test_a_case_is_timed_against_fft_with_an_interval():
    r = time_against_fft(CASE, rounds=3, warmup=1)
    assert r["time.rounds"] == 3 and r["time.threads"] >= 1
    assert r["time.step_seconds"] > 0 and r["time.fft_step_seconds"] > 0
    # the interval of the paired log-ratios: it brackets the point estimate and has a width (3 noisy rounds)
    assert r["time.reduction_lo"] <= r["time.reduction"] <= r["time.reduction_hi"] < 1
    assert r["time.reduction_lo"] < r["time.reduction_hi"]


def test_the_reduction_and_its_interval_come_from_each_rounds_ratio(monkeypatch):
    """Known seconds in, the reduction out: 1 - the geometric mean of the rounds' method/FFT ratios, its
    95% interval Student's t over the log ratios (computed here independently), medians as the steps."""
    import math
    import statistics

    from scipy import stats

    method, fft = iter([0.5, 0.6, 0.55, 0.7]), iter([1.0, 1.1, 0.9, 1.0])
    monkeypatch.setattr("repro.measure.timing.step_timer",
                        lambda spec: (lambda: next(fft)) if spec.method == "fft" else (lambda: next(method)))
    r = time_against_fft(CASE, rounds=4, warmup=0)
    logs = [math.log(m / f) for m, f in zip([0.5, 0.6, 0.55, 0.7], [1.0, 1.1, 0.9, 1.0], strict=True)]
    mean, half = statistics.mean(logs), stats.t.ppf(0.975, 3) * statistics.stdev(logs) / 2
    assert r["time.reduction"] == pytest.approx(1 - math.exp(mean), abs=1e-12)
    assert r["time.reduction_lo"] == pytest.approx(1 - math.exp(mean + half), abs=1e-12)
    assert r["time.reduction_hi"] == pytest.approx(1 - math.exp(mean - half), abs=1e-12)
    assert (r["time.step_seconds"], r["time.fft_step_seconds"]) == (0.575, 1.0)


@pytest.mark.parametrize("spec, rounds, match", [
    (CaseSpec("mobilenet_v3_small", "lora", 4, analytic=True), 3, "no time to measure"),
    (CaseSpec("mobilenet_v3_small", "fft"), 3, "reference"),
    (CASE, 1, "at least 2 rounds"),
])
def test_what_cannot_be_timed_is_refused_in_words(spec, rounds, match):
    with pytest.raises(ValueError, match=match):
        time_against_fft(spec, rounds=rounds)


def test_timings_time_each_case_once(monkeypatch):
    calls = []
    monkeypatch.setattr("repro.measure.timing.time_against_fft", lambda spec, rounds=None: calls.append(spec) or {})
    # in this process, where the stand-in is: on an AVX-512 CPU the default sends the timing to a spawned
    # worker with the CPU's own kernels (tests/test_kernels.py), which cannot take a lambda
    timings = timed_once(native=False)
    timings(CASE)
    timings(CASE)
    timings(dataclasses.replace(CASE, batch=4))
    assert calls == [CASE, dataclasses.replace(CASE, batch=4)]


def test_the_cyclic_collector_is_left_as_it_was(monkeypatch):
    import gc

    assert gc.isenabled()
    time_against_fft(CASE, rounds=2, warmup=0)
    assert gc.isenabled()


def test_one_clock_times_a_step_on_the_cpu():
    import time

    from repro.measure.clock import seconds

    assert 0.02 <= seconds(lambda: time.sleep(0.02)) < 1.0
