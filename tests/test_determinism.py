"""A result is a function of its spec: not of the cache, the order of runs, or earlier work in the process.

A new user's first run pretrains the base models and a later run loads them; a test module runs after
whatever pytest ran before it. Neither may move a number.
"""

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from repro.learn.training import AdaptSpec, adapt
from repro.learn.zoo import Recipe
from repro.measure.profile import CaseSpec, profile

pytestmark = pytest.mark.slow  # pretrains and trains, in this process and in fresh ones

# One epoch: the pretraining draws from the RNG as the default recipe does, in seconds instead of a minute.
QUICK = Recipe(epochs=1, batch=128)
# Specs whose results hang on random draws: a fresh head (unseen), LoRA's initialisation, and dropout
# (MobileNetV2's classifier); ResNet-18 has none of the last.
ADAPT = [AdaptSpec("mobilenet_v2", "lora", 4, "unseen", steps=10, batch=16, recipe=QUICK),
         AdaptSpec("resnet18", "fft", None, "shift", steps=10, batch=16, recipe=QUICK)]
# Costs are analytic, but their build draws too (initial weights, adapters) and must not touch the
# caller's stream; one of them imports peft, one not (a fresh interpreter pays for that import).
COSTS = [CaseSpec("mobilenet_v3_small", "dora", 4, batch=2), CaseSpec("resnet18", "bn_head", batch=2)]


def outcome(spec):
    """What a run gives that must not move: accuracies and test losses (the losses show a change that a
    few hundred images' accuracy can hide), or the whole cost record but its seconds and env."""
    if isinstance(spec, AdaptSpec):
        r = adapt(spec)
        return r.before, r.after, r.loss_before, r.loss_after
    return {k: v for k, v in profile(spec, timed_steps=0).to_dict().items() if k not in ("step_seconds", "env")}


RUNNER = """
import pickle, sys
from tests.test_determinism import outcome
specs = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(pickle.dumps([outcome(s) for s in specs]))
"""


def in_new_process(specs, cache):
    """Each spec's outcome from a fresh interpreter that ran only `specs`, in order."""
    done = subprocess.run([sys.executable, "-c", RUNNER], input=pickle.dumps(specs), capture_output=True,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "REPRO_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return pickle.loads(done.stdout)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_an_empty_and_a_filled_cache_give_the_same_adaptation(empty_cache):
    spec = ADAPT[0]
    cold = adapt(spec)  # pretrains the base model first
    assert list(empty_cache.rglob("mobilenet_v2-*.pt")), "the first run should have filled the cache"
    warm = adapt(spec)  # loads it
    assert (cold.before, cold.after, cold.loss_before, cold.loss_after) == (
        warm.before, warm.after, warm.loss_before, warm.loss_after)


@pytest.mark.parametrize("specs", [ADAPT, COSTS], ids=["adaptation", "profiled-cost"])
def test_two_specs_in_either_order_give_what_each_gives_alone(specs, empty_cache):
    a, b = specs
    alone = [in_new_process([a], empty_cache)[0], in_new_process([b], empty_cache)[0]]
    # in this process, after whatever the test session ran before: a then b, then a again after b
    torch.manual_seed(1234)
    torch.rand(7)  # leave the global stream somewhere no run would start from
    first_a, then_b, a_after_b = outcome(a), outcome(b), outcome(a)
    assert first_a == alone[0] and a_after_b == alone[0]
    assert then_b == alone[1]


def test_runs_leave_the_callers_random_stream_untouched(empty_cache):
    state = torch.random.get_rng_state()
    profile(COSTS[0], timed_steps=0)
    adapt(dataclasses.replace(ADAPT[1], steps=2))
    assert torch.equal(torch.random.get_rng_state(), state)
