"""Accuracy after adaptation, per model x method x task (mean, sd and each seed), against its baseline.

Runs under -m paper_claims on the embedded benchmark (--embedded-data, glyphs by default) or, with
--data-root, on real data, each against its own baseline file. Under --remeasure sample (the default
on an embedded benchmark) only the cases the accuracy verdicts rest on are tests, each one seed made
again and held to its record to the last digit; under --remeasure all, every case and seed.
"""

import pytest

from repro.case.grid import accuracy_cases, seeds_of
from repro.verify import baselines as bl


def pytest_generate_tests(metafunc):
    from repro.show.claims_plugin import claims_run

    # all the runs are made at once, in parallel (repro/learn/runs.py), and shared with the accuracy claims
    run = claims_run(metafunc.config)
    data, sample = run.data, run.sample_keys()
    metafunc.parametrize("model, method, scenario", [
        pytest.param(spec.model, spec.method, spec.scenario, id=spec.key,
                     marks=[pytest.mark.paper_claims, pytest.mark.accuracy, pytest.mark.accuracy_case(spec.key),
                            pytest.mark.xdist_group("accuracy")])
        for spec in accuracy_cases(data=data) if sample is None or spec.key in sample])


def test_accuracy_matches_baseline(model, method, scenario, evidence, baselines, request):
    case = request.node.callspec.id
    if evidence.sample is not None:  # --remeasure sample: this case's seed of the day, made again
        seed, problems = evidence.remade()[case]
        flags = "" if evidence.data.benchmark == "glyphs" else f" --embedded-data {evidence.data.benchmark}"
        return baselines.check_again(evidence.data.group, case, seed, problems, bl.update_hint(case) + flags)
    runs = evidence.runs(model, method, scenario)
    assert len(runs) == len(seeds_of(method, evidence.seeds)) and all(0 <= r["after"] <= 1 for r in runs)
    baselines.check(evidence.data.group, request.node.callspec.id, bl.accuracy_metrics(runs))
