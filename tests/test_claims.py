"""Every claim check on synthetic measurements, once where it must hold and once where it must not,
so no claim test can pass by construction."""

import copy

import pytest
from fakes import SYNTHETIC, Fake, accs, records_of

from repro.case.specs import GLYPHS
from repro.verify.claims import BANDS, CLAIMS, FINDINGS, claim_cases, claim_id


def test_every_claim_has_synthetic_cases():
    assert {c.id for c in (*CLAIMS, *FINDINGS)} == set(SYNTHETIC)


def test_the_paper_claims_and_the_suite_findings_are_apart():
    assert all(c.source != "[M]" for c in CLAIMS) and all(c.ours for c in FINDINGS)


# a check reads whatever evidence it is given, so one scale covers it
CASES = [(c, conv) for c, conv, scale in claim_cases() if scale == "32px"]


@pytest.mark.parametrize("claim, convention", CASES, ids=[claim_id(c, v) for c, v in CASES])
def test_claim_check_holds_and_fails_on_synthetic_measurements(claim, convention):
    holding, failing = SYNTHETIC[claim.id]
    yes, no = claim.read(holding, convention), claim.read(failing, convention)
    assert yes.holds is True, yes.measured
    assert no.holds is False, no.measured
    assert no.measured and yes.measured


class Noisy(Fake):
    """Seeds that move GaLore apart from FFT: its gap's interval is wide."""

    def runs(self, model, method, scenario):
        out = super().runs(model, method, scenario)
        if method == "galore":
            for seed, r in enumerate(out):
                r["after"] += 0.06 * (seed - 2)
        return out


def test_an_interval_across_the_band_edge_is_inconclusive():
    # GaLore 4 points behind FFT on one cell, seeds spread +-12: the interval crosses the 5-point edge
    check_f = next(c.check for c in CLAIMS if c.id == "F")
    verdict = check_f(Noisy(acc=accs(galore__resnet18__shift_hard=0.86, lora__mobilenet_v2=0.8, dora__resnet18=0.8)))
    assert verdict.holds is None and verdict.status == "inconclusive", verdict.measured


def test_claims_read_only_the_cells_their_protocol_reads():
    """A cell outside the calibrated ones (repro/case/protocol.py) moves no verdict; a claim with no cell of
    its kind to read is inconclusive, never a pass."""
    from repro.case.protocol import GLYPH_CELLS

    check = {c.id: c.check for c in CLAIMS}
    bad_cell = accs(galore__mobilenet_v2__unseen_hard=0.5)  # MobileNetV2 unseen-hard missed its calibration
    assert "unseen-hard" not in GLYPH_CELLS["mobilenet_v2"]
    assert check["F"](Fake(acc=bad_cell)).holds is False
    assert check["F"](Fake(acc=bad_cell, cells=GLYPH_CELLS)).holds is not False
    no_hard = {"resnet18": ("shift-easy",), "mobilenet_v2": ("shift-easy",)}
    assert check["J"](Fake(acc=accs(lora_at_25=0.8), cells=no_hard)).status == "inconclusive"
    assert check["G"](Fake(cells={"resnet18": ("shift-easy",)})).status == "inconclusive"


def test_steps_to_reach_interpolates_and_says_never():
    from repro.verify.claims import steps_to_reach

    curve = {0: 0.1, 25: 0.5, 50: 0.7, 100: 0.8}
    assert steps_to_reach(curve, 0.6) == 37.5
    assert steps_to_reach(curve, 0.05) == 0
    assert steps_to_reach(curve, 0.9) == float("inf")


def test_evidence_at_a_scale_is_one_object_sharing_its_measurements():
    from repro.verify.evidence import MeasuredEvidence

    evidence = MeasuredEvidence(measure=lambda spec: spec)
    assert evidence.at("32px") is evidence  # accuracy runs are cached per object: never a copy
    assert evidence.at("224px") is evidence.at("224px")
    spec = evidence.at("224px").spec("resnet18", "fft")
    assert (spec.size, spec.analytic, spec.batch) == (224, True, 8)
    with pytest.raises(ValueError, match="valid scales: 32px, 224px"):
        evidence.at("96px")


@pytest.mark.parametrize("claim, convention", CASES, ids=[claim_id(c, v) for c, v in CASES])
def test_every_verdict_re_derives_from_the_stored_records(claim, convention):
    """What a claims run stores (flat metrics; per accuracy case mean, sd and each seed's value) is
    enough to give the same verdicts again, with no model built: a reader can check any of them."""
    from repro.verify.evidence import RecordedEvidence

    for shared in (*SYNTHETIC[claim.id], Noisy(acc=accs(galore__resnet18__unseen_hard=0.86))):
        # the recorded glyph evidence reads the calibrated cells only; a copy, since SYNTHETIC is shared
        fake = copy.copy(shared)
        fake.cells = GLYPHS.protocol.cells
        recorded = RecordedEvidence(records_of(fake, GLYPHS), GLYPHS)
        live, again = claim.read(fake, convention), claim.read(recorded, convention)
        assert (live.status, live.measured) == (again.status, again.measured), claim.id


@pytest.mark.parametrize("name", sorted(BANDS))
def test_each_band_decides_its_edges(name):
    """A point on either edge of a band is inside it, a point past an edge is not; an interval across an
    edge is inconclusive. The failure text names the band."""
    import math

    from repro.stats import HOLDS, INCONCLUSIVE, NO, Summary

    band = BANDS[name]
    step = 1e-6 * max(1.0, *(abs(x) for x in (band.lo, band.hi) if math.isfinite(x)))
    for edge, outside in ((band.lo, band.lo - step), (band.hi, band.hi + step)):
        if math.isfinite(edge):
            assert band.decide(edge) == HOLDS and band.decide(outside) == NO, (name, edge)
            assert band.decide(Summary(edge, 1, 5, outside - step, edge + step)) == INCONCLUSIVE
            assert band.decide(Summary(outside, 1, 5, outside, outside)) == NO
    assert str(band) and not str(band).startswith("-inf")


class WideTimes(Fake):
    """Step times measured with +-20 points of noise: every time interval crosses the bands' edges."""

    def time(self, model, method, rank=None):
        t = super().time(model, method, rank)
        return t | {"time.reduction_lo": t["time.reduction"] - 0.2, "time.reduction_hi": t["time.reduction"] + 0.2}


@pytest.mark.parametrize("claim_id_", ["B", "D", "E"])
def test_a_time_interval_across_the_band_edge_is_inconclusive(claim_id_):
    from repro.verify.claims import TIME

    claim = next(c for c in CLAIMS if c.id == claim_id_)
    verdict = claim.read(WideTimes(**SYNTHETIC[claim_id_][0].__dict__), TIME)
    assert verdict.status == "inconclusive", verdict.measured
    assert "[" in verdict.measured  # the interval is shown, not only the point


def test_break_even_is_the_first_rank_that_reaches_the_reference_and_reads_no_further():
    from repro.verify.claims import break_even_rank

    read = []
    cost = {1: 10, 2: 40, 4: 100, 8: 90, 16: 300}
    assert break_even_rank(cost, lambda r: read.append(r) or cost[r], 100) == 4 and read == [1, 2, 4]
    assert break_even_rank(cost, cost.__getitem__, 301) is None
