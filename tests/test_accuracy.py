"""Accuracy after adaptation, per model x method x task (mean, sd and each seed), against its baseline.

Runs under -m paper_claims on the embedded benchmark (--benchmark, digits by default) or, with
--data-root, on real data, each against its own baseline file.
"""

import pytest

from repro import baselines as bl
from repro.grid import accuracy_cases, seeds_of


def pytest_generate_tests(metafunc):
    from conftest import accuracy_data

    # all the runs are made at once, in parallel (repro/runs.py), and shared with the accuracy claims
    data = accuracy_data(metafunc.config)
    metafunc.parametrize("model, method, scenario", [
        pytest.param(spec.model, spec.method, spec.scenario, id=spec.key,
                     marks=[pytest.mark.paper_claims, pytest.mark.accuracy, pytest.mark.xdist_group("accuracy")])
        for spec in accuracy_cases(data=data)])


def test_accuracy_matches_baseline(model, method, scenario, evidence, baselines, request):
    runs = evidence.runs(model, method, scenario)
    assert len(runs) == len(seeds_of(method, evidence.seeds)) and all(0 <= r["after"] <= 1 for r in runs)
    data = evidence.data
    group = "accuracy-real-data" if data.data_root is not None else f"accuracy-{data.benchmark}"
    baselines.check(group, request.node.callspec.id, bl.accuracy_metrics(runs))
