"""What the claim checks read: stored records, or measurements made on demand, in one flat form.

    RecordedEvidence(records)    group -> case key -> flat metrics, as results.json and the baseline
                                 files hold them; torch is never imported, so any stored run's
                                 verdicts come back in about a second (python -m repro verdicts)
    MeasuredEvidence()           builds, profiles and trains what a check asks for, once each; with
                                 `stored` and `sample` (--remeasure sample) it reads the accuracy runs
                                 from their records and makes the sample of them again, to compare
    TracedEvidence(evidence)     notes which accuracy cases a check reads, for its `provenance`

Both answer the same questions with the same numbers, so a verdict made from measurements can be
re-derived from the records the run stored (tests/test_paper_claims.py does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from collections.abc import Callable

from repro.case.groups import COST_GROUPS, INPUTS_GROUP, TIME_GROUPS
from repro.case.protocol import ACCURACY_RANK, ACCURACY_SEEDS, RANKED
from repro.case.specs import AdaptSpec, CaseSpec, DataSpec
from repro.verify.claims import SCALES


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    return scale


def time_spec(model: str, method: str, rank: int | None, scale: str) -> CaseSpec:
    """The case a time reading times at a scale: the real step, never fake tensors."""
    return CaseSpec(model, method, rank, size=SCALES[scale].get("size", 32))


def adapter_spec(model: str, rank: int) -> CaseSpec:
    """The case S1 reads: LoRA at `rank` on every conv, depthwise ones included."""
    return CaseSpec(model, "lora", rank, targets="all")


def cost_record(scale: str, model, method, rank=None, **spec_fields) -> tuple[str, str]:
    """(group, key) of a cost case's record: the claims' grid, or claim-inputs for a case with other fields."""
    key = CaseSpec(model, method, rank, **SCALES[scale], **spec_fields).key
    return (INPUTS_GROUP if spec_fields else COST_GROUPS[scale]), key


def run_key(model, method, scenario) -> str:
    """The key of an accuracy case's record (all its seeds)."""
    return AdaptSpec(model, method, ACCURACY_RANK if method in RANKED else None, scenario).key


class MissingRecord(KeyError):
    def __str__(self):
        return self.args[0]


class _Tasks:
    """Which tasks the accuracy claims read, from the evidence's data spec."""

    @property
    def scenarios(self):
        return self.data.scenarios

    def tasks(self, model):
        return self.data.tasks(model)

    @property
    def easy(self):
        return tuple(t for t in self.scenarios if t.endswith("-easy"))

    @property
    def hard(self):
        return tuple(t for t in self.scenarios if t.endswith("-hard"))


class RecordedEvidence(_Tasks):
    """Evidence read back from stored records: `records` maps a group (costs, costs-224px,
    claim-inputs, accuracy-digits, ...) to its cases' flat metrics."""

    def __init__(self, records: dict, data: DataSpec | None = None, scale: str = "32px"):
        self.records, self.data, self.scale = records, data or DataSpec(), scale

    def at(self, scale: str) -> RecordedEvidence:
        return RecordedEvidence(self.records, self.data, check_scale(scale))

    def _record(self, group: str, key: str) -> dict:
        try:
            return self.records[group][key]
        except KeyError:
            raise MissingRecord(f"no record of {key} in {group}: the run or baseline did not measure it "
                                f"(pytest -m paper_claims measures every case a claim reads)") from None

    def cost(self, model, method, rank=None, **spec_fields):
        return self._record(*cost_record(self.scale, model, method, rank, **spec_fields))

    def adapters(self, model, rank):
        return self._record(INPUTS_GROUP, adapter_spec(model, rank).key)

    def time(self, model, method, rank=None):
        return self._record(TIME_GROUPS[self.scale], time_spec(model, method, rank, self.scale).key)

    def runs(self, model, method, scenario):
        from repro.verify.baselines import accuracy_runs

        return accuracy_runs(self._record(self.data.group, run_key(model, method, scenario)), self.data.protocol.steps)

    def provenance(self, cases) -> str:
        return f"{_count(self, cases)} stored runs, none made here"


def _count(evidence, cases) -> int:
    return sum(len(evidence.runs(*c)) for c in dict.fromkeys(cases))


class TracedEvidence:
    """An evidence that notes the accuracy cases (model, method, task) a check reads, in `cases`."""

    def __init__(self, evidence, cases=None):
        self.evidence, self.cases = evidence, [] if cases is None else cases

    def __getattr__(self, name):
        return getattr(self.evidence, name)

    def at(self, scale):
        return TracedEvidence(self.evidence.at(scale), self.cases)

    def runs(self, model, method, scenario):
        self.cases.append((model, method, scenario))
        return self.evidence.runs(model, method, scenario)

    def provenance(self) -> str:
        return self.evidence.provenance(self.cases) if self.cases else ""


class _Shared:
    """What every scale's view of one MeasuredEvidence shares: the accuracy runs, made once, and the views."""

    def __init__(self):
        self.results = None  # the AdaptResults of the runs, in spec order
        self.by_case = None  # (model, method, task) -> the runs as the claims read them
        self.views = {}  # scale -> the evidence at that scale


@dataclasses.dataclass(eq=False)
class MeasuredEvidence(_Tasks):
    """Evidence from real measurements, each made once and shared (tests and CLI use the same one)."""

    measure: Callable | None = None  # CaseSpec -> measurement (None: repro.measure.profile.profile, cached)
    data: DataSpec | None = None  # None: the default DataSpec
    seeds: tuple | None = None  # None: ACCURACY_SEEDS
    scale: str = "32px"
    workers: int | None = None
    timings: Callable | None = None  # CaseSpec -> time metrics (None: repro.measure.timing.timed_once())
    device: str = "cpu"
    cases: frozenset | None = None  # the accuracy cases (spec keys) to run; None: every case of the grid
    shown: Callable = contextlib.nullcontext  # a context in which the runs' progress reaches the user
    # record(group, key, metrics): every measurement a check reads is kept as a record, in the groups and
    # keys RecordedEvidence reads, so the run's verdicts can be re-derived from what it stored
    record: Callable | None = None
    # --remeasure sample: the data's accuracy records (case key -> metrics) the claims read, and the runs
    # (AdaptSpecs, one seed of each deciding case) made again to compare with them
    stored: dict | None = None
    sample: list | None = None
    # where the runs are made (repro/learn/engines.py; None: this machine's pool), and where finished ones
    # are kept (repro/learn/runstore.py; None: nowhere, every run is made)
    engine: object = None
    run_store: object = None
    shared: _Shared = dataclasses.field(default_factory=_Shared, repr=False)  # passed on to every view

    def __post_init__(self):
        if self.measure is None:
            from repro.measure.profile import profile

            self.measure = functools.cache(profile)
        if self.timings is None:
            from repro.measure.timing import timed_once

            self.timings = timed_once()
        self.data = self.data or DataSpec()
        self.seeds = self.seeds or ACCURACY_SEEDS
        self.record = self.record or (lambda group, key, metrics: None)

    def at(self, scale: str) -> MeasuredEvidence:
        """The evidence with cost cases at one of SCALES: a copy that shares the runs and the cost
        measurements (`shared`, `measure`), so each is made once whatever the scale."""
        if check_scale(scale) == self.scale:
            return self
        if scale not in self.shared.views:
            self.shared.views[scale] = dataclasses.replace(self, scale=scale)
        return self.shared.views[scale]

    def spec(self, model, method, rank=None, **spec_fields) -> CaseSpec:
        return CaseSpec(model, method, rank, device=self.device, **{**SCALES[self.scale], **spec_fields})

    def cost(self, model, method, rank=None, **spec_fields):
        from repro.verify.baselines import cost_metrics

        metrics = cost_metrics(self.measure(self.spec(model, method, rank, **spec_fields)))
        self.record(*cost_record(self.scale, model, method, rank, **spec_fields), metrics)
        return metrics

    def adapters(self, model, rank):
        metrics = depthwise_adapters(model, rank)
        self.record(INPUTS_GROUP, adapter_spec(model, rank).key, metrics)
        return metrics

    def time(self, model, method, rank=None):
        spec = time_spec(model, method, rank, self.scale)
        metrics = self.timings(dataclasses.replace(spec, device=self.device))
        self.record(TIME_GROUPS[self.scale], spec.key, metrics)
        return metrics

    def runs(self, model, method, scenario):
        if self.stored is None:
            return self._runs()[model, method, scenario]
        from repro.verify.baselines import accuracy_runs

        key = run_key(model, method, scenario)
        if key not in self.stored:
            raise MissingRecord(f"no record of {key} in {self.data.group}: --remeasure sample reads the stored "
                                f"runs; make them with --remeasure all --repro-update")
        self.record(self.data.group, key, self.stored[key])  # the run's results.json holds what it read
        return accuracy_runs(self.stored[key], self.data.protocol.steps)

    def provenance(self, cases) -> str:
        """Where an accuracy verdict's runs come from: made here, or read from records and which of them
        this run made again (and whether they came out equal)."""
        if self.stored is None:
            return f"{_count(self, cases)} runs, all made here"
        again = self.remade(cases)
        differ = [k for k, (_, problems) in again.items() if problems]
        seeds = ", ".join(sorted({f"seed {seed}" for seed, _ in again.values()}))
        return (f"{_count(self, cases)} stored runs, {len(again)} made here again ({seeds}): "
                + (f"{len(differ)} differ ({', '.join(differ)})" if differ else "equal"))

    def remade(self, cases=None) -> dict:
        """--remeasure sample: case key -> (seed, differences from its record) of each run made again, of
        `cases` ((model, method, task); None: all). No cases, or no sample, makes no run."""
        from repro.verify.baselines import run_differences

        keys = None if cases is None else {run_key(*c) for c in cases}
        if self.sample is None or keys == set():
            return {}
        out = {}
        for r in self._all():
            key = run_key(r.spec.model, r.spec.method, r.spec.scenario)
            if keys is None or key in keys:
                out[key] = (r.spec.seed, run_differences(self.stored.get(key, {}), _run(r)))
        return out

    def _all(self):
        """The runs the checks read, made once for every scale's view."""
        if self.shared.results is None:
            self.shared.results = self._make()
        return self.shared.results

    def _make(self):
        from repro.case.grid import accuracy_cases, accuracy_run, seeds_of
        from repro.learn.runs import run_all

        if self.sample is not None:
            specs = [s for s in self.sample if self.cases is None or s.key in self.cases]
        else:
            specs = [accuracy_run(c.model, c.method, c.scenario, seed, self.data)
                     for c in accuracy_cases(data=self.data) if self.cases is None or c.key in self.cases
                     for seed in seeds_of(c.method, self.seeds)]
        with self.shown():
            return run_all(specs, self.workers, engine=self.engine, store=self.run_store)

    def _runs(self):
        from repro.verify.baselines import accuracy_metrics

        if self.shared.by_case is None:
            out = {}
            for r in self._all():
                out.setdefault((r.spec.model, r.spec.method, r.spec.scenario), []).append(_run(r))
            for (model, method, scenario), runs in out.items():  # each case's record, once
                self.record(self.data.group, run_key(model, method, scenario), accuracy_metrics(runs))
            self.shared.by_case = out
        return self.shared.by_case


def _run(r) -> dict:
    """An AdaptResult as the claims read a run."""
    return {"seed": r.spec.seed, "before": r.before, "after": r.after, "curve": dict(r.curve),
            "loss_after": r.loss_after, "seconds": r.seconds}


@functools.cache
def depthwise_adapters(model: str, rank: int) -> dict:
    """What a LoRA adapter on the depthwise convs of `model` weighs at `rank`, as a flat record: how
    many depthwise convs there are, how many peft builds an adapter for (it adapts a conv with groups
    only where the rank is a multiple of the groups), and, for the layer whose adapter is smallest
    against its conv, both parameter counts: for peft's own adapter, and for the shape the author's
    code met before peft adapted grouped convs (Conv(C -> r, k x k) + Conv(r -> C, 1 x 1)), built here."""
    from peft import LoraConfig, get_peft_model
    from torch import nn

    from repro.case.models import build_model, is_depthwise

    net = build_model(model)
    convs = {name: m for name, m in net.named_modules() if is_depthwise(m)}

    def weight(module):
        return sum(p.numel() for p in module.parameters())

    old = [(c.weight.numel(), weight(nn.Sequential(nn.Conv2d(c.in_channels, rank, c.kernel_size, bias=False),
                                                   nn.Conv2d(rank, c.out_channels, 1, bias=False))))
           for c in convs.values()]
    buildable = [name for name, c in convs.items() if rank % c.groups == 0]
    built = []
    if buildable:
        pattern = "^(" + "|".join(re.escape(n) for n in buildable) + ")$"
        adapted = get_peft_model(net, LoraConfig(r=rank, lora_alpha=rank, target_modules=pattern))
        for name in buildable:
            layer = adapted.base_model.model.get_submodule(name)
            built.append((weight(layer.base_layer),
                          sum(p.numel() for k, p in layer.named_parameters() if "lora_" in k)))
    out = {"depthwise.layers": len(convs), "peft.adapted": len(built)}
    if built:
        out["peft.conv"], out["peft.adapter"] = min(built, key=lambda ca: ca[1] / ca[0])
    out["pre_grouped.conv"], out["pre_grouped.adapter"] = min(old, key=lambda ca: ca[1] / ca[0])
    return out
