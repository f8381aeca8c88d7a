"""Every cost case of the grid against its stored baseline: parameters, FLOPs (both conventions), memory.

The smoke subset runs on every commit; the whole grid, at 32 x 32 and at the paper's 224 x 224 on fake
tensors, runs under -m paper_claims.
"""

import dataclasses

import pytest

from repro.baselines import cost_metrics
from repro.grid import SMOKE_COSTS, case_id, cost_cases, paper_scale_cases

SMOKE_PAPER_SCALE = paper_scale_cases(batches=(32,), models=("mobilenet_v2",), methods=("lora",), ranks=(8,))


def grid(cases, smoke):
    return [pytest.param(spec, id=case_id(spec),
                         marks=[pytest.mark.paper_claims, *([pytest.mark.smoke] if spec in smoke else [])])
            for spec in cases]


@pytest.mark.parametrize("spec", grid(cost_cases(), set(SMOKE_COSTS)))
def test_update_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs", case_id(spec), cost_metrics(record))


@pytest.mark.parametrize("spec", grid(paper_scale_cases(), set(SMOKE_PAPER_SCALE)))
def test_paper_scale_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs-224px", case_id(spec), cost_metrics(record))
