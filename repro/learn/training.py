"""Short, seeded adaptation of a pretrained base model to a scenario (the loops: repro/learn/loops.py).

    result = adapt(AdaptSpec("mobilenet_v2", "lora", rank=8, scenario="shift"))
    result.before, result.after   # target test accuracy before and after the update
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from torch import nn

from repro.case.methods import RANKED, apply_method, require_rank
from repro.case.models import build_model, replace_head
from repro.case.specs import AdaptSpec, DataSpec, MethodOptions, Recipe
from repro.determinism import deterministic, seeded
from repro.learn.data import scenario_task
from repro.learn.loops import evaluate, reestimate_bn_stats, set_bn_stats, train_steps  # noqa: F401 (re-exported)
from repro.learn.zoo import base_model

# Per-method learning rates (AdamW). Adapters and full fine-tuning share 1e-3: LoRA at 1e-2
# diverged on ResNet-18; the few parameters of head and BN+H need a larger step to move in 100 steps.
LR = {"fft": 1e-3, "bn_head": 1e-2, "head": 1e-2, "lora": 1e-3, "dora": 1e-3, "galore": 1e-3}

# BatchNorm running statistics during adaptation. BN+H re-estimates them on the target data, as in
# the paper; for every other method they stay those of the source task, so that no method gets the
# (large) benefit of re-estimated statistics silently. `bn_stats_only` reports that benefit alone.
BN_STATS = {"bn_head": "update"}


@dataclass(frozen=True)
class AdaptResult:
    spec: AdaptSpec
    before: float  # target test accuracy of the base model (a fresh head for unseen classes: chance)
    after: float
    seconds: float
    data_source: str
    loss_before: float  # mean target test cross-entropy, before and after
    loss_after: float
    curve: tuple[tuple[int, float], ...] = ()  # (step, test accuracy) at spec.checkpoints, then at spec.steps


def base_for(spec_model: str, data: DataSpec, num_classes: int, progress: bool, recipe: Recipe = Recipe(),
             head: str | None = None) -> nn.Module:
    """The pretrained base model, with a fresh head when the target has other classes. A pretraining
    on a cache miss draws from its own seeded stream and hands the caller's back untouched, so what
    is drawn here next is the same whether the cache was full or empty."""
    state, meta = base_model(spec_model, data, recipe, progress=progress)
    model = build_model(spec_model, meta["num_classes"], data.size)
    model.load_state_dict(state)
    if num_classes != meta["num_classes"]:
        replace_head(model, num_classes, head)
    return model


def adapt(spec: AdaptSpec, progress: bool = False) -> AdaptResult:
    if spec.method in RANKED:  # before loading (and maybe pretraining) the base model
        require_rank(spec.method, spec.rank)
    task = scenario_task(spec.scenario, spec.data)
    start = time.perf_counter()
    # Every draw below (the fresh head, the adapters, dropout) follows spec.seed alone; batch order
    # and corruption noise have generators of their own, seeded from the spec too.
    with deterministic(), seeded(spec.seed):
        model = base_for(spec.model, spec.data, task.num_classes, progress, spec.recipe, spec.head)
        before = evaluate(model, task.test)
        opts = MethodOptions(lr=spec.lr if spec.lr is not None else LR.get(spec.method, 1e-3), head=spec.head)
        model, optimizer = apply_method(model, spec.method, spec.rank, opts)
        bn_stats = spec.bn_stats or BN_STATS.get(spec.method, "frozen")
        curve = []

        def checkpoint(step):  # the same run read at several steps, not separate runs
            if step in spec.checkpoints and step != spec.steps:
                curve.append((step, evaluate(model, task.test)[0]))
                set_bn_stats(model, bn_stats)  # evaluate() left the model in eval mode

        train_steps(model, optimizer, task.train, spec.steps, spec.batch, spec.seed, bn_stats,
                    progress=f"adapt {spec.key} seed {spec.seed}" if progress else None, after_step=checkpoint)
        after = evaluate(model, task.test)
    return AdaptResult(spec, before[0], after[0], time.perf_counter() - start, task.source, before[1], after[1],
                       (*curve, (spec.steps, after[0])))


def bn_stats_only(model: str, scenario: str = "shift", data: DataSpec = DataSpec(), progress=False,
                  recipe: Recipe = Recipe(), seed: int = 0) -> AdaptResult:
    """No training: the base model with BN statistics re-estimated on the target training data."""
    task = scenario_task(scenario, data)
    start = time.perf_counter()
    with deterministic(), seeded(seed):
        net = base_for(model, data, task.num_classes, progress, recipe)
        before = evaluate(net, task.test)
        reestimate_bn_stats(net, task.train)
        after = evaluate(net, task.test)
    spec = AdaptSpec(model, "bn_stats_only", scenario=scenario, steps=0, seed=seed, data=data, recipe=recipe)
    return AdaptResult(spec, before[0], after[0], time.perf_counter() - start, task.source, before[1], after[1])

