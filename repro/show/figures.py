"""The report's and the sweep's figures: plain functions that draw what they are given into a PNG file and
return the cases they found missing. Which case holds a point is the caller's `case_of(model, method, rank)`."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI runners or a Jetson over ssh
import matplotlib.pyplot as plt  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from repro.case.grid import ACCURACY_RANK, RANKS  # noqa: E402
from repro.case.protocol import PAPER_METHODS, PAPER_MODELS, RANKED  # noqa: E402
from repro.case.specs import GLYPHS, SCENARIOS, AdaptSpec, DataSpec  # noqa: E402
from repro.files import write_atomic  # noqa: E402

MODELS, METHODS = PAPER_MODELS, PAPER_METHODS  # what the claims report shows; a sweep passes its own
# Okabe-Ito for the paper's methods: distinguishable with every common colour-vision deficiency; one
# colour per method everywhere. The methods beyond the paper take distinct Tableau colours.
METHOD_COLORS = {"fft": "#000000", "bn_head": "#E69F00", "head": "#999999", "lora": "#0072B2",
                 "dora": "#CC79A7", "galore": "#009E73", "bn_stats_only": "#D55E00",
                 "loha": "#56B4E9", "lokr": "#8c564b", "oft": "#bcbd22", "boft": "#17becf", "ia3": "#F0E442"}
CATEGORIES = ("parameter", "buffer", "gradient", "optimizer_state", "activation", "temp", "other")
CATEGORY_COLORS = dict(zip(CATEGORIES, plt.get_cmap("tab10").colors, strict=False))


def flops_vs_rank(costs: dict, case_of, title: str, path: Path, models=MODELS, methods=METHODS, ranks=RANKS,
                  log=False) -> list[str]:
    """Per model, one panel per FLOP convention; returns the cases it found missing. `case_of(model, method,
    rank)` names the case that holds each point in `costs`."""
    missing = []
    fig, axes = plt.subplots(2, len(models), figsize=(4 * len(models) + 1, 7), sharex=True, squeeze=False)
    for col, model in enumerate(models):
        for row, convention in enumerate(("exact", "paper")):
            ax = axes[row][col]
            missing += _flops_panel(ax, costs, model, f"flops.{convention}.total", methods, ranks, case_of)
            ax.set_xscale("log", base=2)
            ax.set_xticks(ranks, [str(r) for r in ranks])
            ax.set_title(f"{model}, {convention} counting", fontsize=10)
            if row == 1:  # the columns share their x axis
                ax.set_xlabel("rank")
            ax.set_ylabel("GFLOP per update" + (" (log)" if log else ""))
            if log:  # methods orders of magnitude apart (BOFT) would flatten the rest against zero
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)
    return missing


def _flops_panel(ax, costs: dict, model: str, metric: str, methods, ranks, case_of) -> list[str]:
    """One model's FLOPs under one convention: a line per ranked method, a dashed level per other method;
    returns the cases missing from `costs`."""
    missing = []
    for method in (m for m in methods if m in RANKED):
        ids = {r: case_of(model, method, r) for r in ranks}
        points = [(r, costs[c][metric] / 1e9) for r, c in ids.items() if c in costs]
        missing += [c for c in ids.values() if c not in costs]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=METHOD_COLORS[method], label=method)
    for method in (m for m in methods if m not in RANKED):  # no rank: a horizontal line
        case = costs.get(case_of(model, method, None))
        if case is None:
            missing.append(case_of(model, method, None))
            continue
        ax.axhline(case[metric] / 1e9, color=METHOD_COLORS[method], linestyle="--", label=method)
    return missing


def time_vs_flops(points: dict, path: Path) -> None:
    """Measured step-time reduction against the FLOP reduction of each convention, one point per model x
    method x rank, filled at 32 x 32 and open at 224 x 224, with the diagonal a count would lie on if
    it predicted time."""
    markers = dict(zip(MODELS, "osD^", strict=False))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
    for ax, (col, convention) in zip(axes, ((3, "exact"), (4, "paper")), strict=True):
        for scale, pts in points.items():
            for p in pts:
                model, method, t, lo, hi = p[0], p[1], p[5], p[6], p[7]
                color = METHOD_COLORS.get(method, "#555555")
                ax.errorbar(100 * p[col], 100 * t, yerr=[[100 * (t - lo)], [100 * (hi - t)]],
                            fmt=markers.get(model, "o"), color=color, mfc=color if scale == "32px" else "none",
                            ms=5, alpha=0.8, elinewidth=0.8)
        ax.axline((0, 0), slope=1, color="grey", linestyle=":", linewidth=1)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_xlabel(f"FLOP reduction vs FFT, {convention} counting (%)")
        ax.set_title(f"{convention} counting", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("measured step-time reduction vs FFT (%, 95% interval)")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=m) for m, c in METHOD_COLORS.items()
               if any(p[1] == m for pts in points.values() for p in pts)]
    handles += [plt.Line2D([], [], color="black", marker=mk, linestyle="", mfc="none", label=m)
                for m, mk in markers.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("Does a FLOP count predict the time of a step? (dotted: time = FLOPs; open: 224 x 224)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _save(fig, path, tight=False)


def memory_breakdown(costs: dict, case_of, title: str, path: Path, models=MODELS, methods=METHODS,
                     rank=ACCURACY_RANK) -> list[str]:
    """Stacked category maxima per method (sum = the paper's peak), with the simultaneous peak marked;
    ranked methods at `rank`."""
    missing = []
    fig, axes = plt.subplots(1, len(models), figsize=(max(4, 0.5 * len(methods)) * len(models) + 1, 4.5),
                             squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        labels = []
        for x, method in enumerate(methods):
            r = rank if method in RANKED else None
            case = costs.get(case_of(model, method, r))
            labels.append(method + (f" r{r}" if r else ""))
            if case is None:
                missing.append(case_of(model, method, r))
                continue
            bottom = 0.0
            for cat in CATEGORIES:
                mib = case[f"memory.categories.{cat}"] / 2**20
                ax.bar(x, mib, bottom=bottom, color=CATEGORY_COLORS[cat], label=cat if x == 0 else None)
                bottom += mib
            ax.plot([x - 0.4, x + 0.4], [case["memory.peak.simultaneous"] / 2**20] * 2, color="black", linewidth=2,
                    label="simultaneous peak" if x == 0 else None)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_title(model, fontsize=10)
        ax.set_ylabel("MiB (bar: sum of category maxima)")
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title)
    ncol = min(len(names), max(1, int(fig.get_figwidth() // 1.7)))  # a one-model sweep needs two rows
    rows = -(-len(names) // ncol)
    fig.tight_layout(rect=(0, 0.04 + 0.04 * rows, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    _save(fig, path, tight=False)
    return missing


def _interval(metrics: dict, reading: str = "after") -> float:
    """The half-width of a case's 95% interval, in points, from its stored mean, sd and n."""
    n = metrics.get("accuracy.n", 1)
    if n < 2:
        return 0.0
    return 100 * student_t.ppf(0.975, n - 1) * metrics.get(f"accuracy.{reading}.sd", 0.0) / math.sqrt(n)


def _tasks(accuracy: dict) -> list[str]:
    return [t for t in (*GLYPHS.scenarios, *SCENARIOS) if any(case.endswith(f"-{t}") for case in accuracy)]


def _data(tasks: list[str]) -> DataSpec:
    """The data the runs on these tasks came from, for its protocol and cells: the glyph tasks are a
    benchmark of their own; digits and real data share the rest."""
    return GLYPHS if set(tasks) & set(GLYPHS.scenarios) else DataSpec()


def accuracy_vs_cost(accuracy: dict, costs: dict, case_of, path: Path) -> list[str]:
    """Accuracy after adaptation (mean and 95% interval over the seeds) against update FLOPs (exact, the
    cost case `case_of(model, method, rank)` in `costs`), per task, Pareto front per model."""
    missing = []
    tasks = _tasks(accuracy) or ["shift", "unseen"]
    steps = _data(tasks).protocol.steps
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4.5), squeeze=False)
    markers = dict(zip(MODELS, "os^D", strict=True))
    for ax, task in zip(axes[0], tasks, strict=True):
        for model in MODELS:
            points = []
            for method in METHODS:
                rank = ACCURACY_RANK if method in RANKED else None
                acc = accuracy.get(AdaptSpec(model, method, rank, task).key)
                cost = costs.get(case_of(model, method, rank))
                if acc is None:
                    continue  # the accuracy grid covers some models only
                if cost is None:
                    missing.append(case_of(model, method, rank))
                    continue
                points.append((cost["flops.exact.total"] / 1e9, 100 * acc["accuracy.after.mean"], method,
                               _interval(acc)))
            for flops, acc, method, half in points:
                ax.errorbar(flops, acc, yerr=half, color=METHOD_COLORS[method], marker=markers[model], markersize=6,
                            capsize=2, linestyle="none", label=f"{model} {method}")
            front = pareto([p[:3] for p in points])
            if len(front) > 1:
                ax.plot([p[0] for p in front], [p[1] for p in front], color="grey", linewidth=1, linestyle=":")
        ax.set_xscale("log")
        ax.set_title(f"{task}: Pareto front dotted (per model)", fontsize=10)
        ax.set_xlabel("GFLOP per update (exact, batch 8, 32x32)")
        ax.set_ylabel(f"target accuracy after {steps} steps (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Accuracy vs update cost (r{ACCURACY_RANK}; mean and 95% interval over the seeds)")
    _save(fig, path)
    return missing


def learning_curves(accuracy: dict, path: Path) -> None:
    """Test accuracy against adaptation steps (mean and 95% interval over the seeds), one panel per model
    and task: what claim J reads."""
    tasks = _tasks(accuracy) or ["shift", "unseen"]
    data = _data(tasks)
    p = data.protocol
    models = [m for m in MODELS if any(case.startswith(f"{m}-") for case in accuracy)]
    fig, axes = plt.subplots(len(models), len(tasks), figsize=(4 * len(tasks), 3.2 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        for ax, task in zip(row, tasks, strict=True):
            for method in METHODS:
                acc = accuracy.get(AdaptSpec(model, method, ACCURACY_RANK if method in RANKED else None, task).key)
                if acc is None:
                    continue
                readings = [(0, "before"), *((c, f"step{c}") for c in p.checkpoints), (p.steps, "after")]
                readings = [(step, r) for step, r in readings if f"accuracy.{r}.mean" in acc]
                steps = [step for step, _ in readings]
                mean = [100 * acc[f"accuracy.{r}.mean"] for _, r in readings]
                half = [_interval(acc, r) for _, r in readings]
                ax.plot(steps, mean, color=METHOD_COLORS[method], marker=".", label=method)
                ax.fill_between(steps, [m - h for m, h in zip(mean, half, strict=True)],
                                [m + h for m, h in zip(mean, half, strict=True)], color=METHOD_COLORS[method],
                                alpha=0.15, linewidth=0)
            if not ax.lines:
                why = ("not read:\nthe task missed its\ncalibration on this model" if task not in data.tasks(model)
                       else "no record of this cell")
                ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, fontsize=8, color="grey")
            ax.set_title(f"{model}, {task}", fontsize=9)
            ax.set_xlabel("adaptation steps")
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("Learning curves: one run per seed read at each checkpoint (claim J)")
    _save(fig, path)


def pareto(points):
    """The points no other point beats on both cost (lower) and accuracy (higher), by cost."""
    front = []
    for p in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or p[1] > front[-1][1]:
            front.append(p)
    return front


def _save(fig, path: Path, tight: bool = True) -> None:
    if tight:
        fig.tight_layout()
    # no version stamp: same inputs, same bytes
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, metadata={"Software": None}))
    plt.close(fig)
