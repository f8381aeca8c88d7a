"""Accuracy after adaptation, per model x method x scenario (mean of the seeds), against its baseline.

Runs under -m paper_claims; with --data-root the same cases run on real data (and compare against
that platform's baselines only if they were recorded on the same data).
"""

import pytest

from repro.grid import ACCURACY_MODELS, accuracy_cases, case_id


def grid():
    cases = [(case_id(spec), spec.model, spec.method, spec.scenario) for spec in accuracy_cases()]
    cases += [(f"{m}-bn_stats_only-shift", m, "bn_stats_only", "shift") for m in ACCURACY_MODELS]
    # one xdist worker trains them all, sharing runs with the accuracy claims (tests/test_paper_claims.py)
    return [pytest.param(*c[1:], id=c[0], marks=[pytest.mark.paper_claims, pytest.mark.xdist_group("accuracy")])
            for c in cases]


@pytest.mark.parametrize("model, method, scenario", grid())
def test_accuracy_matches_baseline(model, method, scenario, evidence, baselines, request):
    acc = evidence.accuracy(model, method, scenario)
    assert 0 <= acc["before"] <= 1 and 0 <= acc["after"] <= 1
    group = "accuracy" if evidence.data.data_root is None else "accuracy-real-data"
    baselines.check(group, request.node.callspec.id,
                    {"accuracy.before": round(acc["before"], 4), "accuracy.after": round(acc["after"], 4)})
