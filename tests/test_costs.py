"""Every cost case of the grid against its stored baseline: parameters, FLOPs (both conventions), memory;
and the records the claims read beyond the grid (claim-inputs).

The smoke subset runs on every commit; the whole grid, at 32 x 32 and at the paper's 224 x 224 on fake
tensors, runs under -m paper_claims; the models and methods the paper did not test under -m beyond_paper.
"""

import dataclasses

import pytest

from repro.case.grid import (
    ADAPTER_CASES,
    CLAIM_INPUT_COSTS,
    SMOKE_BEYOND,
    SMOKE_COSTS,
    TIME_CASES,
    beyond_paper_cases,
    cost_cases,
    full_only,
    paper_scale_cases,
)
from repro.case.groups import INPUTS_GROUP, TIME_GROUPS
from repro.measure.timing import ROUNDS
from repro.verify.baselines import cost_metrics
from repro.verify.evidence import adapter_spec, depthwise_adapters

SMOKE_PAPER_SCALE = paper_scale_cases(batches=(8,), models=("mobilenet_v2",), methods=("lora",), ranks=(8,))


def grid(cases, smoke, mark=pytest.mark.paper_claims):
    """Each case a param; `full` marks those only --remeasure all measures (repro/case/grid.py full_only)."""
    return [pytest.param(spec, id=spec.key, marks=[mark, pytest.mark.profiles(spec),
                                                   *([pytest.mark.smoke] if spec in smoke else []),
                                                   *([pytest.mark.full] if full_only(spec) else [])])
            for spec in cases]


@pytest.mark.parametrize("spec", grid(cost_cases(), set(SMOKE_COSTS)))
def test_update_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs", spec.key, cost_metrics(record))


@pytest.mark.parametrize("spec", grid(paper_scale_cases(), set(SMOKE_PAPER_SCALE)))
def test_paper_scale_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs-224px", spec.key, cost_metrics(record))


@pytest.mark.parametrize("spec", grid(beyond_paper_cases(), set(SMOKE_BEYOND), pytest.mark.beyond_paper))
def test_beyond_paper_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs-beyond", spec.key, cost_metrics(record))


@pytest.mark.parametrize("spec", grid(CLAIM_INPUT_COSTS, set(CLAIM_INPUT_COSTS[:1])))
def test_claim_input_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check(INPUTS_GROUP, spec.key, cost_metrics(record))


@pytest.mark.paper_claims
@pytest.mark.parametrize("model, rank", [pytest.param(m, r, id=adapter_spec(m, r).key,
                                                      marks=[pytest.mark.smoke] if r == 64 else [])
                                         for m, r in ADAPTER_CASES])
def test_depthwise_adapters_match_baseline(model, rank, baselines):
    baselines.check(INPUTS_GROUP, adapter_spec(model, rank).key, depthwise_adapters(model, rank))


@pytest.mark.xdist_group("timing")  # one worker times the grid: every reading of a case is the same record
@pytest.mark.parametrize("spec", grid(TIME_CASES, ()))
def test_step_time_against_fft_is_recorded(spec, timings, baselines):
    """Measured seconds are this machine's and never compared (baselines.Informational); the record must
    exist, be consistent, and come from a real run."""
    record = timings(dataclasses.replace(spec, device=baselines.device))
    assert record["time.step_seconds"] > 0 and record["time.fft_step_seconds"] > 0
    assert record["time.rounds"] == ROUNDS[spec.size]  # the grid's rounds, not a shortened reading
    baselines.check(TIME_GROUPS["32px" if spec.size == 32 else "224px"], spec.key, record)
