"""The glyph calibration's criteria, read on made-up reference runs: each criterion says yes where its
numbers meet it and no where one number does not, and the glyph runs follow their own protocol."""

import pytest

from repro.case.grid import accuracy_run
from repro.case.specs import GLYPHS, DataSpec, Recipe
from repro.learn import calibration
from repro.learn.calibration import calibrate
from repro.learn.training import AdaptResult

SEEDS = (0, 1, 2)
# model -> task -> (FFT at half the steps, FFT after, head-only after): every criterion met
GOOD = {"shift-easy": (0.80, 0.85, 0.80), "shift-hard": (0.38, 0.45, 0.20),
        "unseen-easy": (0.88, 0.92, 0.86), "unseen-hard": (0.45, 0.55, 0.25)}
BN = {"shift-easy": (0.60, 0.82), "shift-hard": (0.30, 0.32)}  # before -> after re-estimating BN statistics


def runs(table=GOOD, bn=BN, model="resnet18"):
    out = []
    for task, (mid, fft, head) in table.items():
        for seed in SEEDS:
            wobble = 0.005 * seed  # a seed spread well under 2 points
            for method, after in (("fft", fft + wobble), ("head", head + wobble)):
                spec = accuracy_run(model, method, task, seed, GLYPHS)
                curve = ((25, mid - 0.05), (50, mid - 0.02), (100, mid + wobble), (200, after))
                out.append(AdaptResult(spec, 0.3, after, 1.0, "test", 2.0, 1.0, curve))
    for task, (before, after) in bn.items():
        out.append(AdaptResult(accuracy_run(model, "bn_stats_only", task, 0, GLYPHS), before, after, 1.0, "test",
                               2.0, 1.0))
    return out


def failed(checks):
    return [(c.task, c.criterion) for c in checks if not c.ok]


def test_reference_runs_that_meet_every_criterion_pass_them_all():
    checks = calibrate(("resnet18",), SEEDS, runs=runs(), sources={"resnet18": 0.95})
    assert failed(checks) == []
    assert {c.task for c in checks} == {"source", *GOOD}


@pytest.mark.parametrize("change, task, criterion", [
    ({"shift-hard": (0.38, 0.45, 0.30)}, "shift-hard", "head-only >= 20 points below FFT"),
    ({"unseen-easy": (0.88, 0.92, 0.80)}, "unseen-easy", "head-only within 10 points of FFT"),
    ({"unseen-hard": (0.30, 0.35, 0.05)}, "unseen-hard", "FFT >= chance + 30 points"),
    ({"shift-hard": (0.50, 0.45, 0.20)}, "shift-hard", "FFT still gains from step 100 to 200"),
])
def test_one_number_off_fails_exactly_its_criterion(change, task, criterion):
    checks = calibrate(("resnet18",), SEEDS, runs=runs({**GOOD, **change}), sources={"resnet18": 0.95})
    assert failed(checks) == [(task, criterion)]


def test_bn_statistics_and_the_source_accuracy_are_read_against_their_bounds():
    bn = {"shift-easy": (0.60, 0.65), "shift-hard": (0.30, 0.50)}  # 26% and 41% of the drops from 79%
    checks = calibrate(("resnet18",), SEEDS, runs=runs(bn=bn), sources={"resnet18": 0.79})
    assert failed(checks) == [("source", "base model >= 80% on the source test set"),
                              ("shift-easy", "BN statistics alone recover at least half of the drop"),
                              ("shift-hard", "BN statistics alone recover less than a quarter of the drop")]


def test_each_benchmark_runs_its_own_protocol():
    """The glyph protocol was calibrated on FFT and head-only (docs/accuracy.md, "Calibration"); the digits keep
    the one their stored baselines were recorded with."""
    lora = accuracy_run("mobilenet_v2", "lora", "shift-hard", 3, GLYPHS)
    assert (lora.steps, lora.checkpoints, lora.lr, lora.bn_stats) == (200, (25, 50, 100), 3e-4, "update")
    assert accuracy_run("resnet18", "bn_head", "unseen-easy", 0, GLYPHS).lr == 3e-3
    assert lora.recipe == Recipe(epochs=20)
    assert accuracy_run("resnet18", "fft", "shift-easy", 0, GLYPHS).recipe == Recipe(epochs=8)
    digits = accuracy_run("mobilenet_v2", "lora", "shift", 0)
    assert (digits.steps, digits.checkpoints, digits.lr, digits.bn_stats, digits.recipe) == \
        (100, (25, 50), None, None, Recipe())


def test_calibration_runs_the_reference_methods_on_the_glyphs_and_nothing_else(monkeypatch):
    monkeypatch.setattr(calibration, "run_all", lambda specs, *args, **kw: specs)
    specs = calibration.reference_runs(("resnet18",), (0, 1))
    assert {s.method for s in specs} == {"fft", "head", "bn_stats_only"}
    assert all(s.data == GLYPHS for s in specs)
    assert len(specs) == 4 * 2 * 2 + 2  # tasks x methods x seeds, and BN statistics on the two shifts


def test_the_glyph_grid_runs_the_calibrated_cells_and_the_digits_every_task():
    """The calibration measures every task; the grid and the claims then read only the cells that met
    its criteria (repro/case/protocol.py GLYPH_CELLS), and the digits and real data every task."""
    from repro.case.grid import accuracy_cases
    from repro.case.protocol import GLYPH_CELLS

    glyph_cells = {(s.model, s.scenario) for s in accuracy_cases(data=GLYPHS)}
    assert glyph_cells == {(m, t) for m, tasks in GLYPH_CELLS.items() for t in tasks}
    assert {s.scenario for s in accuracy_cases(data=DataSpec())} == {"shift", "unseen"}
    assert GLYPHS.tasks("mobilenet_v3_small") == ()  # never calibrated: never read
    assert DataSpec(data_root="/data").tasks("mobilenet_v3_small") == ("shift", "unseen")
