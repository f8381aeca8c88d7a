"""Step time against FFT (repro/timing.py): interleaved rounds, one FFT reference per group, an
interval from the rounds. Seconds are never asserted (a shared machine is noisy): only that a record is
complete, consistent and made the way it says."""

import dataclasses

import pytest

from repro.specs import CaseSpec
from repro.timing import Timings, time_against_fft

SMALL = [CaseSpec("mobilenet_v3_small", "head"), CaseSpec("mobilenet_v3_small", "lora", 4)]


def test_a_group_shares_one_fft_reference_and_gives_an_interval():
    records = time_against_fft(SMALL, rounds=3, warmup=1)
    assert list(records) == [s.key for s in SMALL]
    ffts = {r["time.fft_step_seconds"] for r in records.values()}
    assert len(ffts) == 1  # one reference for the group
    for r in records.values():
        assert r["time.rounds"] == 3 and r["time.threads"] >= 1
        assert r["time.reduction_lo"] <= r["time.reduction"] <= r["time.reduction_hi"]
        assert r["time.step_seconds"] > 0


@pytest.mark.parametrize("specs, match", [
    ([CaseSpec("mobilenet_v3_small", "lora", 4, analytic=True)], "no time to measure"),
    ([CaseSpec("mobilenet_v3_small", "fft")], "reference"),
    ([CaseSpec("mobilenet_v3_small", "head"), CaseSpec("resnet18", "head")], "time them apart"),
])
def test_what_cannot_be_timed_is_refused_in_words(specs, match):
    with pytest.raises(ValueError, match=match):
        time_against_fft(specs, rounds=2)


def test_one_round_gives_no_interval():
    with pytest.raises(ValueError, match="at least 2 rounds"):
        time_against_fft(SMALL, rounds=1)


def test_timings_time_a_case_with_its_grid_group_once(monkeypatch):
    calls = []

    def fake(specs, rounds=None):
        calls.append([s.key for s in specs])
        return {s.key: {"time.reduction": 0.0} for s in specs}

    monkeypatch.setattr("repro.timing.time_against_fft", fake)
    grid = [*SMALL, CaseSpec("resnet18", "head")]
    timings = Timings(grid)
    timings(SMALL[1])
    timings(SMALL[0])  # already timed with its group
    assert calls == [[s.key for s in SMALL]]
    timings(dataclasses.replace(SMALL[0], batch=4))  # off the grid: alone with FFT
    assert calls[-1] == ["mobilenet_v3_small-head-b4-32px"]
