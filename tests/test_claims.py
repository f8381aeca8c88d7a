"""Every claim check on synthetic measurements, once where it must hold and once where it must not,
so no claim test can pass by construction."""

from types import SimpleNamespace

import pytest

from repro.claims import CLAIMS, claim_cases, claim_id


class Fake:
    """Evidence with made-up numbers: flops(model, method, rank) and peak(model, method, rank)."""

    def __init__(self, flops=lambda m, meth, r: 100 if meth == "fft" else 50,
                 peak=lambda m, meth, r: 100 if meth == "fft" else 50, adapter=20, dropout_factor=1.7,
                 acc=lambda m, meth, s, steps: 0.9):
        self.flops, self.peak, self.adapter, self.dropout_factor = flops, peak, adapter, dropout_factor
        self.acc = acc

    def accuracy(self, model, method, scenario, steps=100):
        return {"before": 0.5, "after": self.acc(model, method, scenario, steps)}

    def cost(self, model, method, rank=None, factor=1.0):
        f = self.flops(model, method, rank)
        return SimpleNamespace(
            flops={c: {"total": f, "forward": f / 3 * factor} for c in ("exact", "paper")},
            memory={"peak": {"category_max_sum": self.peak(model, method, rank),
                             "simultaneous": self.peak(model, method, rank)}})

    def cost_with(self, model, method, rank=None, lora_dropout=0.0):
        return self.cost(model, method, rank, self.dropout_factor if lora_dropout else 1.0)

    def depthwise_adapters(self, model, rank):
        return [("features.1.conv.0.0", 9 * 32, self.adapter)]


def by_method(**reductions):
    """FLOPs or peak as 100 * (1 - reduction[method]); fft is 100."""
    return lambda m, meth, r: 100 if meth == "fft" else 100 * (1 - reductions.get(meth, 0.5))


def accs(**cells):
    """Accuracy 0.9 everywhere except cells named method[__model[__scenario[__steps]]]."""
    def acc(m, meth, s, steps):
        for key in (f"{meth}__{m}__{s}__{steps}", f"{meth}__{m}__{s}", f"{meth}__{m}", meth):
            if key in cells:
                return cells[key]
        return 0.9
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
    "BE": (Fake(flops=lambda m, meth, r: 100 if meth == "fft" else 60 + 5 * r), Fake(flops=by_method(lora=0.5))),
    "F": (Fake(acc=accs(galore=0.89, lora__mobilenet_v2=0.8, dora__resnet18=0.8)),
          Fake(acc=accs(galore__resnet18__shift=0.7, lora__mobilenet_v2=0.8))),
    "G": (Fake(acc=accs(lora__mobilenet_v2__shift=0.75)), Fake(acc=accs(lora=0.88, dora=0.88))),
    "H": (Fake(flops=H_FLOPS, acc=accs(dora=0.85, galore=0.95, bn_head=0.8, head=0.7)),
          Fake(flops=H_FLOPS, acc=accs(dora=0.92, galore=0.95, bn_head=0.8, head=0.7))),
    "I": (Fake(acc=accs(bn_head__resnet18__unseen=0.5)), Fake(acc=accs(bn_head=0.88))),
    "J": (Fake(acc=accs(lora__resnet18__shift__50=0.8, lora__mobilenet_v2__shift__50=0.8)),
          Fake(acc=accs())),
    "S1": (Fake(adapter=9 * 32 + 1), Fake(adapter=9 * 32 - 1)),
    "S2": (Fake(dropout_factor=1.7), Fake(dropout_factor=1.0)),
}


def test_every_claim_has_synthetic_cases():
    assert {c.id for c in CLAIMS} == set(SYNTHETIC)


# a check reads whatever evidence it is given, so one scale covers it
CASES = [(c, conv) for c, conv, scale in claim_cases() if scale == "32px"]


@pytest.mark.parametrize("claim, convention", CASES, ids=[claim_id(c, v) for c, v in CASES])
def test_claim_check_holds_and_fails_on_synthetic_measurements(claim, convention):
    holding, failing = SYNTHETIC[claim.id]
    yes, no = claim.check(holding, convention), claim.check(failing, convention)
    assert yes.holds, yes.measured
    assert not no.holds, no.measured
    assert no.measured and yes.measured


def test_evidence_at_a_scale_is_one_object_sharing_its_measurements():
    from repro.claims import MeasuredEvidence

    calls = []
    evidence = MeasuredEvidence(measure=lambda spec: calls.append(spec) or spec)
    assert evidence.at("32px") is evidence  # accuracy runs are cached per object: never a copy
    assert evidence.at("224px") is evidence.at("224px")
    spec = evidence.at("224px").cost("resnet18", "fft")
    assert (spec.size, spec.analytic, spec.batch) == (224, True, 8)
    with pytest.raises(ValueError, match="valid scales: 32px, 224px"):
        evidence.at("96px")
