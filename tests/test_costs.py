"""Every cost case of the grid against its stored baseline: parameters, FLOPs (both conventions), memory.

The smoke subset runs on every commit; the whole grid runs under -m paper_claims.
"""

import dataclasses

import pytest

from repro.baselines import cost_metrics
from repro.grid import SMOKE_COSTS, case_id, cost_cases


def grid():
    smoke = set(SMOKE_COSTS)
    return [pytest.param(spec, id=case_id(spec),
                         marks=[pytest.mark.paper_claims, *([pytest.mark.smoke] if spec in smoke else [])])
            for spec in cost_cases()]


@pytest.mark.parametrize("spec", grid())
def test_update_costs_match_baseline(spec, measure, baselines):
    record = measure(dataclasses.replace(spec, device=baselines.device))
    baselines.check("costs", case_id(spec), cost_metrics(record))
