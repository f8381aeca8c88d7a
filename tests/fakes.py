"""Evidence with made-up numbers, for the claim checks (test_claims.py) and the verdicts command
(test_verdicts.py): a module of its own, so that no test module imports another (pytest's importlib mode
cannot). The `pythonpath` setting in pyproject.toml puts this folder on sys.path.
"""

from repro.case.specs import GLYPHS

STEPS = (*GLYPHS.protocol.checkpoints, GLYPHS.protocol.steps)  # the readings of a glyph run


class Fake:
    """Evidence with made-up numbers: flops(model, method, rank) and peak(model, method, rank)."""

    def __init__(self, flops=lambda m, meth, r: 100 if meth == "fft" else 50,
                 peak=lambda m, meth, r: 100 if meth == "fft" else 50, adapter=20, dropout_factor=1.7,
                 acc=lambda m, meth, s, steps: 0.9, cells=None):
        self.flops, self.peak, self.adapter, self.dropout_factor = flops, peak, adapter, dropout_factor
        self.acc, self.cells = acc, cells

    scenarios = ("shift-easy", "shift-hard", "unseen-easy", "unseen-hard")
    easy, hard = scenarios[::2], scenarios[1::2]

    def tasks(self, model):
        """Every task on every model, or only the given cells (model -> tasks), as a protocol's."""
        return self.scenarios if self.cells is None else self.cells.get(model, ())

    def runs(self, model, method, scenario):
        """Five seeds; each seed moves every method alike, so gaps paired by seed have no spread."""
        out = []
        for seed in range(5):
            jitter = 0.004 * (seed - 2)
            curve = {step: self.acc(model, method, scenario, step) + jitter for step in STEPS}
            out.append({"before": self.acc(model, method, scenario, 0), "after": curve[STEPS[-1]], "curve": curve})
        return out

    def cost(self, model, method, rank=None, lora_dropout=0.0):
        f, p = self.flops(model, method, rank), self.peak(model, method, rank)
        forward = f / 3 * (self.dropout_factor if lora_dropout else 1.0)
        return {"flops.exact.total": f, "flops.paper.total": f, "flops.exact.forward": forward,
                "memory.peak.category_max_sum": p, "memory.peak.simultaneous": p}

    def time(self, model, method, rank=None):
        """The step time follows the FLOPs here, measured within +-1 point."""
        red = 1 - self.flops(model, method, rank) / self.flops(model, "fft", None)
        return {"time.reduction": red, "time.reduction_lo": red - 0.01, "time.reduction_hi": red + 0.01,
                "time.step_seconds": 1 - red, "time.fft_step_seconds": 1.0}

    def adapters(self, model, rank):
        return {"depthwise.layers": 17, "peft.adapted": 1, "peft.conv": 9 * 32, "peft.adapter": self.adapter,
                "pre_grouped.conv": 9 * 32, "pre_grouped.adapter": self.adapter}

    def at(self, scale):
        return self


def by_method(**reductions):
    """FLOPs or peak as 100 * (1 - reduction[method]); fft is 100."""
    return lambda m, meth, r: 100 if meth == "fft" else 100 * (1 - reductions.get(meth, 0.5))


def accs(**cells):
    """Accuracy 0.9 everywhere (0.5 before training) except cells named method[__model[__task]] or
    method_at_<steps>; task names use _ for -."""
    cells = {k.replace("_easy", "-easy").replace("_hard", "-hard"): v for k, v in cells.items()}

    def acc(m, meth, s, steps):
        for key in (f"{meth}_at_{steps}", f"{meth}__{m}__{s}", f"{meth}__{m}", meth):
            if key in cells:
                return cells[key]
        return 0.9 if steps else 0.5
    return acc


# H: LoRA (0.9 at 50 FLOPs) against DoRA, GaLore, BN+H and head on ResNet-18
H_FLOPS = by_method(lora=0.5, dora=0.6, galore=-0.2, bn_head=0.6, head=0.7)


def by_model(mobilenets, resnet):
    return lambda m, meth, r: 100 if meth == "fft" else (resnet if m == "resnet18" else mobilenets)


SYNTHETIC = {
    "A": (Fake(peak=by_method(lora=0.33, dora=0.30, galore=0.36)),
          Fake(peak=by_method(lora=0.7, dora=0.7, galore=0.7))),
    "B": (Fake(flops=by_method(lora=0.95)), Fake(flops=by_method(lora=0.70, dora=0.70))),
    "C": (Fake(peak=by_model(mobilenets=78, resnet=33)), Fake(peak=by_model(mobilenets=50, resnet=50))),
    "D": (Fake(flops=by_model(mobilenets=20, resnet=43)), Fake(flops=by_model(mobilenets=20, resnet=70))),
    "E": (Fake(flops=by_method(galore=-0.2)), Fake(flops=by_method(galore=-0.03))),
    "K": (Fake(peak=by_method(lora=0.5, dora=0.4)), Fake(peak=by_method(lora=0.4, dora=0.5))),
    "BE": (Fake(flops=lambda m, meth, r: 100 if meth == "fft" else 60 + 5 * (r or 0)), Fake(flops=by_method(lora=0.5))),
    "F": (Fake(acc=accs(galore=0.89, lora__mobilenet_v2=0.8, dora__resnet18=0.8)),
          Fake(acc=accs(galore__resnet18__shift_hard=0.7, lora__mobilenet_v2=0.8))),
    "G": (Fake(acc=accs(lora__mobilenet_v2__shift_hard=0.75)), Fake(acc=accs(lora=0.88, dora=0.88))),
    "H": (Fake(flops=H_FLOPS, acc=accs(dora=0.85, galore=0.95, bn_head=0.8, head=0.7)),
          Fake(flops=H_FLOPS, acc=accs(dora=0.92, galore=0.95, bn_head=0.8, head=0.7))),
    "I": (Fake(acc=accs(bn_head__resnet18__unseen_hard=0.5)), Fake(acc=accs(bn_head=0.88))),
    # LoRA reaches GaLore's accuracy at 25 steps only at 50: twice the steps
    "J": (Fake(acc=accs(lora_at_25=0.8)), Fake(acc=accs())),
    "S1": (Fake(adapter=9 * 32 + 1), Fake(adapter=9 * 32 - 1)),
    "S2": (Fake(dropout_factor=1.7), Fake(dropout_factor=1.0)),
}



def records_of(fake, data) -> dict:
    """What a claims run would store for `fake`: every record a claim reads, in the flat form."""
    from repro.case.grid import ACCURACY_MODELS, CLAIM_INPUT_COSTS, TIME_CASES, accuracy_run
    from repro.case.groups import INPUTS_GROUP
    from repro.case.methods import PAPER_METHODS, RANKED
    from repro.case.models import PAPER_MODELS
    from repro.case.specs import CaseSpec
    from repro.verify import baselines as bl
    from repro.verify.claims import MOBILENETS, RANKS
    from repro.verify.evidence import adapter_spec

    costs = {CaseSpec(m, meth, r).key: fake.cost(m, meth, r) for m in PAPER_MODELS for meth in PAPER_METHODS
             for r in (RANKS if meth in RANKED else (None,))}
    inputs = {s.key: fake.cost(s.model, s.method, s.rank, s.lora_dropout) for s in CLAIM_INPUT_COSTS[:1]}
    inputs |= {adapter_spec(m, r).key: fake.adapters(m, r) for m in MOBILENETS for r in RANKS}
    accuracy = {}
    for model in ACCURACY_MODELS:
        for method in PAPER_METHODS:
            for task in fake.scenarios:
                runs = [{"seed": s, **r} for s, r in enumerate(fake.runs(model, method, task))]
                accuracy[accuracy_run(model, method, task, 0, data).key] = bl.accuracy_metrics(runs)
    times = {s.key: fake.time(s.model, s.method, s.rank) for s in TIME_CASES if s.size == 32}
    return {"costs": costs, INPUTS_GROUP: inputs, data.group: accuracy, "times": times}
