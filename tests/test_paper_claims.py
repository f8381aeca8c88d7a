"""The paper's claims, each a test: `pytest -m paper_claims`.

A claim that holds passes. A claim that does not reproduce here is listed in DOES_NOT_REPRODUCE and
ends as an expected failure whose reason carries the measured value; if it starts to hold, the test
fails and says so, so the list stays true (the strict-xfail contract, with the measurement in it).
"""

import pytest

from repro.claims import Outcome, claim_cases, claim_id

# (claim id, convention) -> what we expect and why; measured on x86_64 CPU, torch 2.14.1.
DOES_NOT_REPRODUCE = {
    "B-exact": "best adapter reduction on MobileNets about 32%: the 95% rests on the depthwise over-count",
    "B-paper": "best adapter reduction about 89% under the paper's own rules, below the 95% headline",
    "C": "MobileNetV2 LoRA r8 saves about 50% peak memory at batch 8, 32x32, not 22%",
    "D-exact": "about 32% on MobileNets and 33% on ResNet-18, not 80% and 57%",
    "D-paper": "MobileNets about 89% (within reach of 80%), ResNet-18 about 34%, not 57%",
    "E-exact": "ResNet-18 and MobileNetV2 fall in +10..30%, the MobileNetV3s cost +40..50%",
    "E-paper": "the depthwise over-count inflates FFT, so GaLore's extra shrinks to +3..7% on MobileNets",
    "BE-paper": "under the paper's rules LoRA never stops saving FLOPs up to r64: the over-count hides it",
    # 224 x 224 on fake tensors, batch 8
    "A-224px": "LoRA/DoRA/GaLore raise peak memory on MobileNets on average (-12%): activations dominate at 224",
    "B-exact-224px": "best adapter reduction about 31%, as at 32x32",
    "C-224px": "ResNet-18 saves about 33% and MobileNetV2 about 1%, not 67% and 22%",
    "D-exact-224px": "about 31% on MobileNets and 33% on ResNet-18, not 80% and 57%",
    "D-paper-224px": "MobileNets about 94% (above 80% + 10), ResNet-18 about 33%, not 57%",
    "E-exact-224px": "GaLore adds under 3% at 224: its projections do not grow with the image, the convs do",
    "E-paper-224px": "GaLore adds under 1% at 224 under the paper's rules",
    "BE-paper-224px": "under the paper's rules LoRA never stops saving FLOPs up to r64",
    # accuracy, embedded digits, 100 steps, batch 16, seeds 0-4 paired with FFT (95% intervals, points);
    # F, H and J came out inconclusive in the same run (an xfail whatever this table says)
    "G": "largest FFT-LoRA/DoRA gap on MobileNetV2 about 2 [-3, 7] points: LoRA and DoRA keep up with FFT",
    "I": "BN+H is never far behind FFT (at most about 2 [-3, 8] points): no digits task is hard for it",
}


def cases():
    # Accuracy claims share their training runs with tests/test_accuracy.py through the session's
    # evidence; under `pytest -n` (--dist loadgroup) the group keeps them on one worker, which
    # trains each case once while the other workers take the cost grid.
    return [pytest.param(*case, id=claim_id(*case),
                         marks=[pytest.mark.xdist_group("accuracy"), pytest.mark.accuracy]
                         if case[0].kind == "accuracy" else [])
            for case in claim_cases()]


@pytest.mark.paper_claims
@pytest.mark.parametrize("claim, convention, scale", cases())
def test_claim(claim, convention, scale, evidence, claim_outcomes):
    verdict = claim.check(evidence.at(scale), convention)
    data = evidence.data.describe() if claim.kind == "accuracy" else "analytic (no data)"
    claim_outcomes.append(Outcome(claim, convention, verdict, data, scale))
    key = claim_id(claim, convention, scale)
    if verdict.holds is None:  # never a pass, and never a failure of the build: more seeds would decide it
        pytest.xfail(f"inconclusive: {verdict.measured}")
    if key in DOES_NOT_REPRODUCE:
        if verdict.holds:
            pytest.fail(f"claim {key} now reproduces ({verdict.measured}); remove it from DOES_NOT_REPRODUCE")
        pytest.xfail(f"does not reproduce: {verdict.measured}. {verdict.why}")
    assert verdict.holds, f"claim {key} does not reproduce: {verdict.measured}. {verdict.why}"


def test_the_stored_accuracy_records_give_the_expected_verdicts(measure):
    """The accuracy baseline holds each seed's value, so its verdicts can be re-derived without training;
    they must be what this file expects (G and I do not reproduce, F, H and J are inconclusive)."""
    import json
    from pathlib import Path

    from repro import baselines as bl
    from repro.claims import CLAIMS, MeasuredEvidence, RecordedEvidence
    from repro.data import DataSpec

    path = Path(__file__).resolve().parents[1] / "baselines" / bl.platform_name() / bl.file_name("accuracy-digits")
    if not path.exists():
        pytest.skip(f"no accuracy baseline for this CPU ({path.name}); record one with: {bl.UPDATE_HINT}")
    records = json.loads(path.read_text())["cases"]
    evidence = RecordedEvidence(records, costs=MeasuredEvidence(measure), data=DataSpec())
    for claim in (c for c in CLAIMS if c.kind == "accuracy"):
        for convention in claim.conventions:
            verdict, key = claim.check(evidence, convention), claim_id(claim, convention)
            if verdict.holds is not None:
                assert verdict.holds == (key not in DOES_NOT_REPRODUCE), f"{key}: {verdict.measured}"
