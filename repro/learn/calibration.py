"""Is each glyph task as easy or as hard as its name says? Measured on the reference methods only.

A task's knobs (repro/learn/data/glyphs.py KNOBS) and the protocol's steps are accepted when, for every
accuracy model, the criteria below hold. They read full fine-tuning, head-only and BN statistics
alone, never LoRA, DoRA, GaLore or BN+H: those are the claims' subjects, and their verdicts are the
experiment.

    python -m repro calibrate            # the table in docs/accuracy.md, "Calibration"
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.case.grid import ACCURACY_MODELS, ACCURACY_SEEDS, accuracy_run, recipe_for
from repro.case.specs import GLYPHS
from repro.learn.runs import run_all
from repro.stats import paired, summarize

EASY = ("shift-easy", "unseen-easy")  # the rest are the hard tasks


@dataclass(frozen=True)
class Check:
    model: str
    task: str
    criterion: str
    measured: str
    ok: bool


def _recovered(bn_after: float, before: float, source: float) -> float:
    """The share of a shift's drop (source accuracy -> accuracy on the shifted test set) that
    re-estimating BN statistics wins back."""
    drop = source - before
    return (bn_after - before) / drop if drop > 0 else 1.0


def reference_runs(models=ACCURACY_MODELS, seeds=ACCURACY_SEEDS, workers=None, progress=True, engine=None) -> list:
    """FFT and head-only on every glyph task and seed, BN statistics alone on the shift tasks."""
    from repro.learn.data.glyphs import TASKS

    specs = [accuracy_run(m, meth, task, seed, GLYPHS) for m in models for task in TASKS
             for meth in ("fft", "head") for seed in seeds]
    specs += [accuracy_run(m, "bn_stats_only", task, 0, GLYPHS) for m in models for task in TASKS
              if task.startswith("shift")]
    return run_all(specs, workers, progress, engine=engine)


def calibrate(models=ACCURACY_MODELS, seeds=ACCURACY_SEEDS, workers=None, progress=True, runs=None,
              sources=None, engine=None) -> list[Check]:
    """The criteria, read on `runs` (reference_runs) or on runs made now, and on `sources` (model ->
    the base model's source test accuracy) or the cached base models'."""
    from repro.learn.data.glyphs import TASKS, num_classes
    from repro.learn.zoo import base_model

    runs = runs if runs is not None else reference_runs(models, seeds, workers, progress, engine)
    results = {(r.spec.model, r.spec.method, r.spec.scenario, r.spec.seed): r for r in runs}
    checks = []
    for m in models:
        source = (sources[m] if sources is not None else
                  base_model(m, GLYPHS, recipe_for(GLYPHS, m), progress=False)[1]["test_accuracy"])
        checks.append(Check(m, "source", "base model >= 80% on the source test set", f"{100 * source:.1f}%",
                            source >= 0.80))
        for task in TASKS:
            fft = [results[m, "fft", task, s] for s in seeds]
            head = [results[m, "head", task, s] for s in seeds]
            f, h = summarize([r.after for r in fft]), summarize([r.after for r in head])
            gap = paired([r.after for r in fft], [r.after for r in head])
            checks.append(Check(m, task, "FFT seed sd <= 2 points", f"{100 * f.sd:.1f}", f.sd <= 0.02))
            if task in EASY:
                checks.append(Check(m, task, "head-only within 10 points of FFT",
                                    f"FFT {f.points()}, head {h.points()}, gap {100 * gap.mean:.1f}",
                                    gap.mean <= 0.10))
            else:
                chance = 1 / num_classes(task)
                checks.append(Check(m, task, "FFT >= chance + 30 points",
                                    f"FFT {f.points()}, chance {100 * chance:.1f}", f.mean >= chance + 0.30))
                checks.append(Check(m, task, "head-only >= 20 points below FFT",
                                    f"head {h.points()}, gap {100 * gap.mean:.1f}", gap.mean >= 0.20))
                steps = GLYPHS.protocol.steps
                mid = steps // 2
                if mid in GLYPHS.protocol.checkpoints:
                    gain = summarize([r.after - dict(r.curve)[mid] for r in fft])
                    checks.append(Check(m, task, f"FFT still gains from step {mid} to {steps}",
                                        f"{100 * gain.mean:+.1f} [{100 * gain.lo:+.1f}, {100 * gain.hi:+.1f}]",
                                        gain.lo > 0))
            if task.startswith("shift"):
                bn = results[m, "bn_stats_only", task, 0]
                share = _recovered(bn.after, bn.before, source)
                want = "at least half" if task in EASY else "less than a quarter"
                checks.append(Check(m, task, f"BN statistics alone recover {want} of the drop",
                                    f"source {100 * source:.1f} -> shifted {100 * bn.before:.1f} -> BN stats "
                                    f"{100 * bn.after:.1f}: {100 * share:.0f}%",
                                    share >= 0.5 if task in EASY else share < 0.25))
    return checks
