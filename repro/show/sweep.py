"""A sweep for one model: what each method costs per training step at each rank, and where it stops paying.

    python -m repro sweep --model mypkg.nets:tiny_cnn --ranks 1,4,16 --size 224 --batch 8 --analytic

Every case is one `profile()` (the same record `python -m repro profile` prints). The sweep prints the
cost table and the break-even ranks against full fine-tuning, and writes <out>/index.md, index.html
and figures/*.png with the report's own figure code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate
from tqdm.auto import tqdm

from repro.case.grid import RANKS
from repro.case.methods import METHODS, RANKED
from repro.case.models import build_model, head_name
from repro.files import write_text
from repro.measure.profile import CaseSpec, profile
from repro.show import figures as fig
from repro.show import report
from repro.verify.baselines import cost_metrics

MIB = 2**20


@dataclass(frozen=True)
class Sweep:
    model: str
    methods: tuple[str, ...] = tuple(METHODS)
    ranks: tuple[int, ...] = RANKS
    batch: int = 8
    size: int = 32
    num_classes: int = 10
    head: str | None = None
    analytic: bool = False
    device: str = "cpu"

    def __post_init__(self):
        for method in self.methods:
            if method not in METHODS:
                raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
        if not self.ranks or any(r < 1 for r in self.ranks):
            raise ValueError(f"ranks must be integers >= 1, got {self.ranks}")
        if "fft" not in self.methods:  # every saving and break-even rank is against it
            object.__setattr__(self, "methods", ("fft", *self.methods))
        object.__setattr__(self, "ranks", tuple(sorted(set(self.ranks))))

    def specs(self) -> list[CaseSpec]:
        return [CaseSpec(self.model, method, rank, batch=self.batch, size=self.size, num_classes=self.num_classes,
                         head=self.head, analytic=self.analytic, device=self.device)
                for method in self.methods for rank in (self.ranks if method in RANKED else (None,))]

    def case(self, model: str, method: str, rank: int | None) -> str:
        """The id of one of this sweep's cases (the report's figures look cases up by it)."""
        return CaseSpec(model, method, rank, batch=self.batch, size=self.size, num_classes=self.num_classes,
                        head=self.head).key


def run(sweep: Sweep, progress: bool = True) -> tuple[dict, dict]:
    """(case id -> flat cost metrics, case id -> why it could not be built). A method that cannot adapt
    this model at some rank is a result to show, not a reason to stop the sweep."""
    # a model that does not resolve, fails to build or has no head stops here, once, not once per case
    head_name(build_model(sweep.model, sweep.num_classes, sweep.size), sweep.head)
    costs, failed = {}, {}
    for spec in tqdm(sweep.specs(), desc=f"sweep {sweep.model}", disable=not progress):
        try:
            costs[spec.key] = cost_metrics(profile(spec, timed_steps=0))
        except ValueError as err:
            if spec.method == "fft":
                raise  # the reference of every saving
            failed[spec.key] = str(err)
    return costs, failed


def table(sweep: Sweep, costs: dict, failed: dict) -> list[list]:
    fft = costs[sweep.case(sweep.model, "fft", None)]
    rows = []
    for spec in sweep.specs():
        key = spec.key
        rank = spec.rank if spec.rank is not None else ""
        if key in failed:
            rows.append([spec.method, rank, "cannot (below)", "", "", "", ""])
            continue
        c = costs[key]
        saving = {m: f"{100 * (1 - c[m] / fft[m]):+.1f}%"
                  for m in ("flops.exact.total", "flops.paper.total", "memory.peak.category_max_sum")}
        rows.append([spec.method, rank, f"{c['params.trainable']:,}",
                     f"{c['flops.exact.total'] / 1e9:.3f} ({saving['flops.exact.total']})",
                     f"{c['flops.paper.total'] / 1e9:.3f} ({saving['flops.paper.total']})",
                     f"{c['memory.peak.category_max_sum'] / MIB:.1f} ({saving['memory.peak.category_max_sum']})",
                     f"{c['memory.peak.simultaneous'] / MIB:.1f}"])
    return rows


HEADERS = ["method", "rank", "trainable", "GFLOP exact (saving vs FFT)", "GFLOP paper rules (saving)",
           "peak MiB, category max (saving)", "peak MiB, simultaneous"]
BREAK_EVEN_HEADERS = ["model", "method", "FLOPs (exact)", "FLOPs (paper rules)", "peak memory"]


def break_even(sweep: Sweep, costs: dict) -> list[list]:
    return report.break_even(costs, sweep.case, models=(sweep.model,), methods=sweep.methods, ranks=sweep.ranks)


def write(sweep: Sweep, costs: dict, failed: dict, out: Path) -> Path:
    """index.md, index.html (figures embedded) and figures/*.png under `out`; returns index.md."""
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    how = "on fake tensors" if sweep.analytic else f"on {sweep.device}"
    scale = f"batch {sweep.batch}, {sweep.size}x{sweep.size}"
    fig.flops_vs_rank(costs, sweep.case, f"{sweep.model}: FLOPs of one update vs rank, {scale}",
                      figures / "flops_vs_rank.png", models=(sweep.model,), methods=sweep.methods, ranks=sweep.ranks,
                      log=True)
    mid = sweep.ranks[len(sweep.ranks) // 2]
    fig.memory_breakdown(costs, sweep.case, f"{sweep.model}: memory by category, {scale}, ranked methods at r{mid}",
                         figures / "memory.png", models=(sweep.model,), methods=sweep.methods, rank=mid)
    md = [f"# Sweep: {sweep.model}", "",
          f"One training step ({scale}, {sweep.num_classes} classes, AdamW) per method and rank, profiled {how}. "
          "Savings are against full fine-tuning (FFT); negative means the method costs more.", "",
          tabulate(table(sweep, costs, failed), headers=HEADERS, tablefmt="github", disable_numparse=True), "",
          *[f"* cannot: `{case}`: {why}" for case, why in failed.items()], "",
          "## Break-even ranks", "",
          "The first rank at which the method costs as much as full fine-tuning:", "",
          tabulate(break_even(sweep, costs), headers=BREAK_EVEN_HEADERS, tablefmt="github"), "",
          "## Figures", "", "![FLOPs vs rank](figures/flops_vs_rank.png)", "",
          "The rows differ only in how a grouped conv's weight gradient is counted (exact, and the paper's rules).",
          "", "![Memory](figures/memory.png)", ""]
    text = "\n".join(md)
    write_text(out / "index.md", text)
    write_text(out / "index.html", report.to_html(text, out))
    return out / "index.md"
