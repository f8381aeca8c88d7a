"""The experiment grid, in one place: which cases the suite measures.

Cost cases (FLOPs, memory, parameters) are analytic and cheap, so they cover every rank. Accuracy
cases train, so they cover rank 8 only, enough to compare the methods within the time budget.
"""

from __future__ import annotations

from repro.data import SCENARIOS
from repro.methods import METHODS, RANKED
from repro.models import MODELS
from repro.profile import CaseSpec
from repro.training import AdaptSpec

RANKS = (1, 2, 4, 8, 16, 32, 64)
ACCURACY_RANK = 8
ACCURACY_SEEDS = (0, 1)
# Accuracy cases train (2 seeds x 100 steps each, 5-10 s a run on 2 cores), so the accuracy grid
# keeps one model of each kind, standard and depthwise-separable, to hold `pytest -m paper_claims`
# near 10 minutes warm; the MobileNetV3s are in the cost grid, and `adapt` runs them on demand.
ACCURACY_MODELS = ("resnet18", "mobilenet_v2")


def cost_cases(models=tuple(MODELS), methods=tuple(METHODS), ranks=RANKS) -> list[CaseSpec]:
    """Every model x method x rank at batch 8, 32 x 32 (the size the embedded data uses)."""
    return [CaseSpec(model, method, rank)
            for model in models for method in methods
            for rank in (ranks if method in RANKED else (None,))]


def accuracy_cases(models=ACCURACY_MODELS, methods=tuple(METHODS), scenarios=SCENARIOS) -> list[AdaptSpec]:
    """One spec per model x method x scenario, seed 0; the seeds are run and averaged per case."""
    return [AdaptSpec(model, method, ACCURACY_RANK if method in RANKED else None, scenario)
            for model in models for method in methods for scenario in scenarios]


def case_id(spec) -> str:
    """Test ids that read like sentences: mobilenet_v2-lora-r8, mobilenet_v2-lora-r8-shift."""
    rank = f"-r{spec.rank}" if spec.rank is not None else ""
    scenario = f"-{spec.scenario}" if isinstance(spec, AdaptSpec) else ""
    return f"{spec.model}-{spec.method}{rank}{scenario}"


# The smoke subset every commit runs: one standard and one depthwise-separable model, the methods
# whose costs differ most, at the rank the paper quotes most.
SMOKE_COSTS = cost_cases(models=("resnet18", "mobilenet_v2"), methods=("fft", "bn_head", "lora", "galore"),
                         ranks=(8,))
