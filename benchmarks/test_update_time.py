"""Wall time of a profiled update and of a plain training step, per model x method (r8, batch 8, 32x32).

    pytest benchmarks/test_update_time.py --benchmark-only --benchmark-group-by=param:model \\
        --benchmark-autosave            # then compare commits: --benchmark-compare

Seconds are recorded and compared between commits by pytest-benchmark, never asserted.
"""

import pytest

from repro.case.methods import PAPER_METHODS as METHODS
from repro.case.methods import RANKED
from repro.case.models import PAPER_MODELS as MODELS
from repro.measure.profile import CaseSpec, build_case, profile, step_phases


def spec(model, method):
    return CaseSpec(model, method, 8 if method in RANKED else None)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("model", list(MODELS))
def test_plain_step(benchmark, model, method):
    s = spec(model, method)
    phases = step_phases(*build_case(s), s.loss)
    benchmark.pedantic(lambda: [phase() for phase in phases], rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("model", list(MODELS))
def test_profiled_update(benchmark, model, method):
    benchmark.pedantic(profile, args=(spec(model, method),), kwargs={"timed_steps": 1}, rounds=2)
