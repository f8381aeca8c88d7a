"""Runs in parallel processes give what each gives alone, whatever the number of workers."""

import dataclasses

import pytest

from repro.learn.runs import run_all
from repro.learn.training import AdaptSpec, adapt
from repro.learn.zoo import Recipe

QUICK = Recipe(epochs=1, batch=128)
SPEC = AdaptSpec("mobilenet_v2", "lora", 4, "unseen", steps=6, batch=16, recipe=QUICK, checkpoints=(3,))
OTHER = dataclasses.replace(SPEC, method="fft", rank=None, seed=1)


def numbers(r):
    return r.before, r.after, r.loss_before, r.loss_after, r.curve


@pytest.mark.slow
def test_one_case_gives_the_same_numbers_alone_with_one_worker_and_with_two(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path))
    alone = numbers(adapt(SPEC))
    one = run_all([SPEC], workers=1, progress=False)
    two = run_all([OTHER, SPEC], workers=2, progress=False)
    assert numbers(one[0]) == alone
    assert numbers(two[1]) == alone and two[0].spec == OTHER  # results come back in the specs' order
    assert [step for step, _ in alone[-1]] == [3, 6]


@pytest.mark.slow
def test_base_models_pretrained_side_by_side_are_those_pretrained_alone(monkeypatch, tmp_path):
    """run_all pretrains missing base models one per process (repro/learn/runs.py): each must be the very
    weights that pretraining it alone, in this process, gives."""
    import torch

    from repro.learn import runs
    from repro.learn.zoo import base_model

    specs = [SPEC, dataclasses.replace(SPEC, model="mobilenet_v3_small")]
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "side-by-side"))
    runs.pretrain_all([(s.model, s.data, s.recipe) for s in specs], workers=2)
    for spec in specs:
        shared, _ = base_model(spec.model, spec.data, spec.recipe, progress=False)
        alone, _ = base_model(spec.model, spec.data, spec.recipe, progress=False, cache=tmp_path / "alone")
        assert shared.keys() == alone.keys()
        assert all(torch.equal(shared[k], alone[k]) for k in alone), spec.model


def test_evidence_runs_only_the_accuracy_cases_it_is_given(monkeypatch):
    from repro.case.grid import accuracy_cases
    from repro.verify.evidence import MeasuredEvidence

    monkeypatch.setattr("repro.learn.runs.run_all", lambda specs, workers, **kw: specs)  # the specs it would run
    every = MeasuredEvidence(measure=object(), timings=object())._all()
    keys = {s.key for s in every}
    assert keys == {c.key for c in accuracy_cases()}
    one = MeasuredEvidence(measure=object(), timings=object(), cases=frozenset({"resnet18-lora-r8-shift"}))._all()
    assert {s.key for s in one} == {"resnet18-lora-r8-shift"} and [s.seed for s in one] == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_analytic_cases_profiled_side_by_side_count_what_each_counts_alone():
    """profile_all (the claims run's 224 x 224 grid) spreads fake-tensor steps over processes: each
    record's integers must be those of profiling the case here, alone."""
    import pytest

    from repro.case.specs import CaseSpec
    from repro.learn.runs import profile_all
    from repro.measure.profile import profile

    specs = [CaseSpec("mobilenet_v3_small", "lora", 8, batch=2, size=64, analytic=True),
             CaseSpec("mobilenet_v3_small", "fft", batch=2, size=64, analytic=True)]
    alone = [profile(s) for s in specs]
    two = profile_all(specs, workers=2, progress=False)
    assert [(m.spec, m.params, m.flops, m.memory) for m in two] == [(m.spec, m.params, m.flops, m.memory)
                                                                   for m in alone]
    with pytest.raises(ValueError, match="analytic specs only"):
        profile_all([CaseSpec("mobilenet_v3_small", "fft", batch=2, size=32)])


def test_evidence_runs_its_grid_where_the_progress_bar_is_shown(monkeypatch):
    """pytest captures a test's output; the conftest hands MeasuredEvidence a context that lifts it."""
    import contextlib

    from repro.verify.evidence import MeasuredEvidence

    events = []

    @contextlib.contextmanager
    def shown():
        events.append("shown")
        yield
        events.append("hidden")

    monkeypatch.setattr("repro.learn.runs.run_all", lambda specs, workers, **kw: events.append("runs") or specs)
    one = frozenset({"resnet18-lora-r8-shift"})
    MeasuredEvidence(measure=object(), timings=object(), cases=one, shown=shown)._all()
    assert events == ["shown", "runs", "hidden"]


class ShipsFiles:
    """An engine whose workers share no disk with this machine (as Ray's), which says what it was given."""

    name, ships_files = "ships", True

    def __init__(self):
        self.mapped = []

    def at_once(self, n):
        return n

    def map(self, fn, items, desc=None, on_result=None, files=None, per_job=None):
        self.mapped += items
        return [fn(item) for item in items]


def test_an_engine_without_a_shared_disk_is_sent_the_base_models_this_machine_has_not_asked_to_pretrain_them(
        monkeypatch, tmp_path):
    """Found with a two-node Ray: the driver had the glyph base model, the nodes did not, and a node began
    pretraining it again (half an hour) instead of being sent the file."""
    from repro.learn import runs
    from repro.learn.zoo import base_model, base_model_path

    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path))
    key = (SPEC.model, SPEC.data, SPEC.recipe)
    base_model(*key, progress=False)  # in this machine's cache (QUICK: a few seconds)
    path = base_model_path(*key)
    engine = ShipsFiles()
    assert runs.pretrain_all([key, key], engine=engine) == {path.name: path.read_bytes()}
    assert engine.mapped == []  # no job: nothing pretrained anywhere
