"""The report: the paper's claims, our measurements and the baselines, side by side.

    python -m repro report [--from reports/results.json] [--out reports/]

writes <out>/index.md, <out>/index.html (figures embedded, one file to share) and <out>/figures/*.png.
The figures show the run's measurements (results.json, written at the end of every pytest run) and
fall back to the stored baselines for cases the run did not measure; whatever is missing from both is
listed, never guessed. The same inputs give byte-identical Markdown.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from tabulate import tabulate

from repro.case.grid import ACCURACY_RANK, RANKS, TIME_CASES
from repro.case.groups import COST_GROUPS, RECORD_GROUPS, TIME_GROUPS, accuracy_group
from repro.case.protocol import BENCHMARKS, PAPER_METHODS, PAPER_MODELS, RANKED
from repro.case.specs import CaseSpec, DataSpec
from repro.files import write_text
from repro.show import figures as fig
from repro.verify import baselines as bl
from repro.verify.claims import SCALES, break_even_rank, claim_cases
from repro.verify.evidence import RecordedEvidence, time_spec
from repro.verify.verdicts import by_scale, derive  # noqa: F401 (by_scale re-exported)

RESULTS_SCHEMA = 1
GROUPS = (*COST_GROUPS.values(), accuracy_group("digits"))
# read when recorded: the glyphs (what pytest -m paper_claims reads), and the time readings a platform
# may not have yet
OPTIONAL_GROUPS = (accuracy_group("glyphs"), *TIME_GROUPS.values())
MODELS, METHODS = PAPER_MODELS, PAPER_METHODS  # what the claims report shows; a sweep passes its own
TIME_NAMES = list(dict.fromkeys((s.model, s.method, s.rank) for s in TIME_CASES))  # what is timed, at any scale


@dataclass
class Inputs:
    measured: dict = field(default_factory=dict)  # group -> case -> metrics, from results.json
    baselines: dict = field(default_factory=dict)  # group -> case -> metrics, from baselines/<platform>
    claims: list = field(default_factory=list)  # claims-table rows, from results.json
    environment: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)  # what was read, for the report's last section
    missing: list = field(default_factory=list)  # what could not be read or was not there, and the fix

    def cases(self, group: str) -> dict:
        """The run's measurement of each case where it has one, else the baseline's."""
        return {**self.baselines.get(group, {}), **self.measured.get(group, {})}


def write_results(path: Path, measured: dict, claims: list, environment: dict) -> None:
    """What a pytest run measured, for the report: results.json (flat metrics, as the baselines hold them)."""
    environment = {**environment, "date": datetime.date.today().isoformat()}
    data = {"schema": RESULTS_SCHEMA, "environment": environment, "claims": claims,
            "measured": {g: dict(sorted(cases.items())) for g, cases in sorted(measured.items())}}
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def load_inputs(results: Path, baselines_dir: Path, platform: str) -> Inputs:
    inputs = Inputs()
    if results.exists():
        try:
            data = json.loads(results.read_text())
            if data.get("schema") != RESULTS_SCHEMA:
                raise ValueError(f"schema {data.get('schema')!r}, expected {RESULTS_SCHEMA}")
            inputs.measured, inputs.claims = data["measured"], data["claims"]
            inputs.environment = data["environment"]
            inputs.sources.append(f"{results}: {sum(map(len, inputs.measured.values()))} measured cases, "
                                  f"{len(inputs.claims)} claim checks")
        except (ValueError, KeyError, TypeError) as err:
            inputs.missing.append(f"{results} could not be read ({err}); re-create it with `pytest -m paper_claims`")
    else:
        inputs.missing.append(f"{results} not found: no run's measurements; the figures use the baselines. "
                              f"Measure with `pytest -m paper_claims`")
    device = "cpu" if inputs.environment.get("device", "cpu") == "cpu" else "cuda"  # a GPU's name otherwise
    for group in (*GROUPS, *OPTIONAL_GROUPS):
        path = bl.path(baselines_dir, platform, group, device)
        if group in OPTIONAL_GROUPS and not path.exists():
            continue
        try:
            stored = bl.load(path)
        except bl.BaselineError as err:
            inputs.missing.append(str(err))
            continue
        inputs.baselines[group] = stored["cases"]
        inputs.environment = inputs.environment or stored["environment"]
        inputs.sources.append(f"{path}: {len(stored['cases'])} cases")
    return inputs


# ---- the verdict matrix -------------------------------------------------------------------------

# What a reader wants at a glance: each claim against each way it is read. The FLOP conventions and the
# measured time read cost claims; the benchmarks read accuracy claims.
MATRIX_COLUMNS = ("paper rules", "exact", "time", "digits", "glyphs", "real data")
STATUS = {"holds": "holds", "does not reproduce": "no", "inconclusive": "inconclusive"}  # CSS class; else "none"


def columns_of(row: dict) -> list[str]:
    """The matrix columns a claims row fills: its FLOP convention (both, for a cost claim that counts no
    FLOPs), time, or the benchmark its accuracy runs are on."""
    if row["data"].startswith("real data"):
        return ["real data"]
    if row["data"].startswith("embedded "):
        return [row["data"].removeprefix("embedded ")]
    if row["convention"] == "time":
        return ["time"]
    return [{"paper": "paper rules", "exact": "exact"}[row["convention"]]] if row["convention"] else ["paper rules",
                                                                                                       "exact"]


def stored_accuracy_rows(inputs: Inputs) -> list[dict]:
    """The accuracy claims on each benchmark the run did not read, derived from its stored records."""
    read = {r["data"] for r in inputs.claims}
    rows = []
    for benchmark in BENCHMARKS:
        data = DataSpec(benchmark=benchmark)
        if data.describe() in read or not inputs.cases(data.group):
            continue
        records = {g: inputs.cases(g) for g in (*RECORD_GROUPS, data.group)}
        cases = [c for c in claim_cases() if c[0].kind == "accuracy"]
        rows += [{**r, "stored": True} for r in derive(RecordedEvidence(records, data), cases)
                 if r["verdict"] in STATUS]
    return rows


def verdict_matrix(rows: list[dict]) -> list[dict]:
    """One line per claim (B-exact, B-paper and B-time are one claim read three ways): its words, the
    paper's value, and per matrix column the (label, verdict) of each scale or convention it was read at."""
    lines = {}
    for r in sorted(rows, key=lambda r: (r["id"], _scale_rank(r["scale"]))):
        base = _claim(r)
        line = lines.setdefault(base, {"id": base, "claim": r["claim"], "paper": r["paper"],
                                       "section": r.get("section", "paper"), "cells": {}})
        for column in columns_of(r):
            if column in ("paper rules", "exact", "time"):
                label = r["scale"]
            else:
                label = f"{r['convention']} rules" if r["convention"] == "paper" else (r["convention"] or "")
            if r.get("stored"):
                label = f"{label}, stored" if label else "stored"
            line["cells"].setdefault(column, []).append((label, r["verdict"]))
    return sorted(lines.values(), key=lambda line: (line["section"] != "paper", _claim_order(line["id"])))


def _claim(row: dict) -> str:
    """The claim a row reads, without its reading: B for B-exact, B-paper and B-time."""
    return row["id"].rsplit("-", 1)[0] if row["convention"] else row["id"]


def _scale_rank(scale: str) -> int:
    """32px before 224px, and a scale the claims do not name after both."""
    return list(COST_GROUPS).index(scale) if scale in COST_GROUPS else len(COST_GROUPS)


def _claim_order(claim_id: str):
    head = re.match(r"[A-Z]+", claim_id).group()
    return (len(head), head, claim_id)


def matrix_html(lines: list[dict]) -> str:
    """The matrix as an HTML table (Markdown keeps it as a block; the HTML page styles it)."""
    columns = [c for c in MATRIX_COLUMNS if any(c in line["cells"] for line in lines)]
    counts = {}
    for line in lines:
        for cell in line["cells"].values():
            for _, verdict in cell:
                counts[verdict] = counts.get(verdict, 0) + 1

    def badge(label, verdict):
        return (f'<span class="v {STATUS.get(verdict, "none")}" title="{html.escape(verdict)}">'
                f'{html.escape(f"{label}: " if label else "")}{html.escape(verdict)}</span>')

    out = ['<p class="summary">' + " ".join(f'<span class="v {STATUS.get(v, "none")}">{html.escape(v)}: {n}</span>'
                                             for v, n in sorted(counts.items())) + "</p>",
           '<table class="matrix"><thead><tr><th>claim</th><th>held to</th>'
           + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead><tbody>"]
    section = None
    for line in lines:
        if line["section"] != section:
            section = line["section"]
            title = "claims of the paper" if section == "paper" else "findings of this suite (not the paper's)"
            out.append(f'<tr class="section"><th colspan="{2 + len(columns)}">{title}</th></tr>')
        cells = "".join("<td>" + " ".join(badge(*b) for b in line["cells"].get(c, [])) + "</td>" for c in columns)
        out.append(f'<tr><th scope="row"><b>{html.escape(line["id"])}</b> {html.escape(line["claim"])}</th>'
                   f"<td>{html.escape(line['paper'])}</td>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# ---- tables ------------------------------------------------------------------------------------

def claims_table(rows: list[dict]) -> list[list]:
    """One line per claim and scale: our number under the paper's rules and under exact counting."""
    lines = {}
    for r in rows:
        line = lines.setdefault((_claim(r), r["scale"]), {"row": r, "paper": "", "exact": "", "time": "",
                                                          "verdicts": {}, "why": []})
        for convention in ([r["convention"]] if r["convention"] else ["paper", "exact"]):
            line[convention] = r["measured"]
            line["verdicts"][convention] = r["verdict"]
        if r["why"] and r["why"] not in line["why"]:
            line["why"].append(r["why"])
    out = []
    for (claim_id, scale), line in sorted(lines.items(), key=lambda kv: (kv[0][0], _scale_rank(kv[0][1]))):
        r = line["row"]
        verdicts = set(line["verdicts"].values())
        verdict = verdicts.pop() if len(verdicts) == 1 else "; ".join(
            f"{c}: {v}" for c, v in sorted(line["verdicts"].items()))
        if r.get("runs"):  # an accuracy verdict: stored runs read, or runs made here (never taken for each other)
            verdict = f"{verdict} ({r['runs']})"
        same = line["paper"] == line["exact"]
        out.append([claim_id, r["claim"], r["source"], r["paper"], scale, line["paper"],
                    "(same)" if same else line["exact"], line["time"], verdict, " ".join(line["why"])])
    return out


def _case(model, method, rank, scale):
    """The case id the tests record a cost case under, at one of the claims' scales."""
    return CaseSpec(model, method, rank, **SCALES[scale]).key


def _at(scale):
    return lambda model, method, rank: _case(model, method, rank, scale)


def break_even(costs: dict, case, models=MODELS, methods=METHODS, ranks=RANKS) -> list[list]:
    """Per model and adapter method: the smallest rank whose FLOPs (each convention) or peak memory
    reaches full fine-tuning's. `case(model, method, rank)` names the case in `costs`."""
    rows = []
    for model in models:
        fft = costs.get(case(model, "fft", None))
        if fft is None:
            continue
        for method in (m for m in methods if m in RANKED):
            row = [model, method]
            for metric in ("flops.exact.total", "flops.paper.total", "memory.peak.category_max_sum"):
                values = {r: costs[case(model, method, r)][metric] for r in ranks if case(model, method, r) in costs}
                measured = list(values)
                hit = break_even_rank(measured, values.__getitem__, fft[metric])
                row.append(f"r{hit}" if hit else (f"none up to r{measured[-1]}" if measured else "not measured"))
            rows.append(row)
    return rows


def cuda_table(costs: dict) -> list[list]:
    """Cases recorded on CUDA: the allocator's measured peak beside the analytic ones (MiB)."""
    mib = 2 ** 20
    return [[case, f"{m['memory.cuda_max_allocated'] / mib:.1f}", f"{m['memory.peak.simultaneous'] / mib:.1f}",
             f"{m['memory.peak.category_max_sum'] / mib:.1f}",
             f"x{m['memory.cuda_max_allocated'] / m['memory.peak.simultaneous']:.2f}"]
            for case, m in sorted(costs.items()) if "memory.cuda_max_allocated" in m]


def time_points(costs: dict, times: dict, scale: str) -> list[tuple]:
    """(model, method, rank, FLOP reduction exact, paper, time reduction, lo, hi, ms, FFT ms) of every
    timed case whose FLOPs are recorded at the same scale."""
    out = []
    for model, method, rank in TIME_NAMES:
        t = times.get(time_spec(model, method, rank, scale).key)
        cost, fft = costs.get(_case(model, method, rank, scale)), costs.get(_case(model, "fft", None, scale))
        if t is None or cost is None or fft is None:
            continue
        flop = [1 - cost[f"flops.{c}.total"] / fft[f"flops.{c}.total"] for c in ("exact", "paper")]
        out.append((model, method, rank, *flop, t["time.reduction"], t["time.reduction_lo"], t["time.reduction_hi"],
                    1e3 * t["time.step_seconds"], 1e3 * t["time.fft_step_seconds"]))
    return out


def time_table(points: list[tuple], rank=ACCURACY_RANK, models=("resnet18", "mobilenet_v2")) -> list[list]:
    """The counted reductions beside the measured one, per method at `rank` (and the head methods)."""
    return [[model, method + (f" r{r}" if r else ""), f"{100 * ex:.1f}%", f"{100 * pa:.1f}%",
             f"{100 * t:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]", f"{ms:.1f}", f"{fft_ms:.1f}"]
            for model, method, r, ex, pa, t, lo, hi, ms, fft_ms in points
            if model in models and r in (None, rank)]


def drift(inputs: Inputs) -> list[list]:
    """Every metric the run measured that differs from its stored baseline."""
    rows = []
    for group, cases in sorted(inputs.measured.items()):
        stored = inputs.baselines.get(group, {})
        for case, metrics in sorted(cases.items()):
            for metric, new in sorted(metrics.items()):
                old = stored.get(case, {}).get(metric)
                if old is not None and old != new:
                    change = f"{100 * (new - old) / old:+.2f}%" if old else "n/a"
                    rows.append([group, case, metric, old, new, change])
    return rows


# ---- the page ----------------------------------------------------------------------------------

def build(inputs: Inputs, out: Path) -> Path:
    """Write index.md, index.html and the figures into `out`; returns the Markdown path. The verdict matrix
    comes first, then the figures, then the detail behind both: each section adds to both lists."""
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    md = ["# PEFT on edge CNNs: the claims of arXiv 2507.23536, measured", ""]
    if inputs.missing:
        md += ["## Missing inputs", "", *[f"* {m}" for m in inputs.missing], ""]
    md += verdicts_section(inputs)
    figs, detail = ["## Figures", ""], []
    for section in (claims_section, costs_section, time_section, accuracy_section, drift_section,
                    environment_section):
        more_figs, more_detail = section(inputs, figures)
        figs += more_figs
        detail += more_detail
    text = "\n".join(md + figs + detail)
    write_text(out / "index.md", text)
    write_text(out / "index.html", to_html(text, out))
    return out / "index.md"


def verdicts_section(inputs: Inputs) -> list[str]:
    lines = verdict_matrix(inputs.claims + stored_accuracy_rows(inputs))
    if not lines:
        return []
    return ["## Verdicts", "",
            "Each claim against each way it is read: FLOPs counted under the paper's rules and exactly, "
            "measured step time on the machine that ran, and accuracy on each benchmark (\"stored\": derived "
            "from the stored records, not this run's). Inconclusive is an interval across a band's edge: "
            "neither a pass nor a failure.", "", matrix_html(lines), ""]


CLAIM_HEADERS = ["id", "the paper's words", "source", "paper", "scale", "ours (paper rules)", "ours (exact)",
                 "ours (step time, this machine)", "verdict", "why they differ"]


def claims_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    detail = ["## Claims in detail", ""]
    paper = [r for r in inputs.claims if r.get("section", "paper") == "paper"]
    ours = [r for r in inputs.claims if r.get("section") == "finding"]
    if paper:
        detail += [tabulate(claims_table(paper), tablefmt="github", headers=CLAIM_HEADERS), ""]
    else:
        detail += ["No claim checks in the run's results: run `pytest -m paper_claims` to check them.", ""]
    if ours:
        detail += ["## Findings of this suite", "", "Measured here, not claimed by the paper.", "",
                   tabulate(claims_table(ours), tablefmt="github", headers=CLAIM_HEADERS), ""]
    return [], detail


def costs_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    figs, detail = [], []
    for scale, group in COST_GROUPS.items():
        costs = inputs.cases(group)
        detail += [f"## Costs at {scale} (batch 8)", ""]
        if not costs:
            detail += [f"No `{group}` measurements or baselines.", ""]
            continue
        gone = fig.flops_vs_rank(costs, _at(scale), f"FLOPs of one update vs rank, batch 8, {scale}",
                                 figures / f"flops_vs_rank_{scale}.png")
        gone += fig.memory_breakdown(costs, _at(scale), f"Memory by category, batch 8, {scale}, ranked methods at "
                                     f"r{ACCURACY_RANK}", figures / f"memory_{scale}.png")
        figs += [f"![FLOPs vs rank at {scale}](figures/flops_vs_rank_{scale}.png)", "",
                 "Lines: adapter methods against rank; dashed: methods without a rank. The two rows differ only "
                 "in how a depthwise conv's weight gradient is counted (docs/paper.md, the depthwise over-count).", "",
                 f"![Memory at {scale}](figures/memory_{scale}.png)", "",
                 "Bars stack each category's own maximum (the paper's peak); the black tick is the largest total "
                 "held at one moment.", ""]
        detail += ["Break-even ranks (the first rank at which the method costs as much as full fine-tuning):", "",
                   tabulate(break_even(costs, _at(scale)), tablefmt="github",
                            headers=["model", "method", "FLOPs (exact)", "FLOPs (paper rules)", "peak memory"]), ""]
        detail += cuda_lines(costs)
        if gone:
            detail += [f"Missing from the figures: {len(gone)} cases ({', '.join(sorted(set(gone))[:5])}"
                       f"{', ...' if len(set(gone)) > 5 else ''}).", ""]
    return figs, detail


def cuda_lines(costs: dict) -> list[str]:
    cuda = cuda_table(costs)
    if not cuda:
        return []
    return ["Measured on the GPU (`torch.cuda.max_memory_allocated` over the profiled iterations) beside "
            "the analytic peaks, in MiB:", "",
            tabulate(cuda, tablefmt="github", headers=["case", "CUDA max allocated", "simultaneous (analytic)",
                                                      "category max sum (analytic)", "CUDA / simultaneous"]), ""]


def time_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    detail = ["## Measured step time against the FLOP counts", ""]
    points = {scale: time_points(inputs.cases(COST_GROUPS[scale]), inputs.cases(group), scale)
              for scale, group in TIME_GROUPS.items()}
    if not any(points.values()):
        return [], detail + ["No time readings: `pytest -m paper_claims` measures them "
                             "(baselines/<platform>/times.json).", ""]
    fig.time_vs_flops(points, figures / "time_vs_flops.png")
    env = inputs.environment
    figs = [f"One unprofiled step of each method timed against FFT's in one process, in alternation, on "
            f"{env.get('device', '?')} ({env.get('platform', '?')}, {env.get('cpu_capability', '?')} kernels); "
            "the intervals are 95% over the timed rounds. These are this machine's seconds, not the paper's.", "",
            "![Time vs FLOPs](figures/time_vs_flops.png)", ""]
    for scale, pts in points.items():
        if rows := time_table(pts):
            detail += [f"At {scale}, batch 8:", "",
                       tabulate(rows, tablefmt="github", headers=["model", "method", "FLOP reduction (exact)",
                                                                  "(paper rules)", "step-time reduction",
                                                                  "step ms", "FFT step ms"]), ""]
    return figs, detail


def accuracy_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    benchmark = "glyphs" if inputs.cases(accuracy_group("glyphs")) else "digits"
    accuracy = inputs.cases(accuracy_group(benchmark))
    if not accuracy:
        return ["No accuracy measurements or baselines.", ""], []
    gone = fig.accuracy_vs_cost(accuracy, inputs.cases(COST_GROUPS["32px"]), _at("32px"),
                                figures / "accuracy_vs_cost.png")
    fig.learning_curves(accuracy, figures / "learning_curves.png")
    figs = [f"Accuracy on the embedded {benchmark} benchmark, from the run's records (under --remeasure sample "
            "the stored runs, a sample of them made again: the claims' verdict column says how many); bars "
            "and bands are 95% intervals over the seeds.", "",
            "![Accuracy vs cost](figures/accuracy_vs_cost.png)", "",
            "![Learning curves](figures/learning_curves.png)", ""]
    detail = ["## Accuracy vs cost", "", f"Missing cost cases for accuracy points: {', '.join(sorted(set(gone)))}.",
              ""] if gone else []
    return figs, detail


def drift_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    detail = ["## Drift from the baselines", ""]
    rows = drift(inputs)
    if not inputs.measured:
        detail += ["No run's measurements to compare.", ""]
    elif rows:
        detail += [tabulate(rows, headers=["group", "case", "metric", "baseline", "measured", "change"],
                            tablefmt="github"), ""]
    else:
        detail += [f"None: all {sum(map(len, inputs.measured.values()))} measured cases equal their baselines.", ""]
    return [], detail


def environment_section(inputs: Inputs, figures: Path) -> tuple[list, list]:
    return [], ["## Environment", "", tabulate(sorted(inputs.environment.items()), headers=["", ""],
                                               tablefmt="github"),
                "", "Read from:", "", *[f"* {s}" for s in inputs.sources], ""]


def to_html(markdown: str, out: Path) -> str:
    """The Markdown as one self-contained HTML page, the figures under `out` embedded."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def embed(match):
        data = base64.b64encode((out / match.group(1)).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="(figures/[^"]+\.png)"', embed, body)
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>peft-edge-repro report</title><style>{STYLE}</style></head><body><main>\n{body}</main>"
            f"</body></html>\n")


# Verdict colours: green holds, red does not reproduce, amber inconclusive (Okabe-Ito-like, with the word
# always written beside the colour, so no reader depends on telling them apart).
STYLE = """
:root{--holds:#1a7f37;--no:#c0392b;--inconclusive:#b7791f;--none:#6b7280;--line:#d9dde3;--ink:#1f2328}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#f6f8fa}
main{max-width:1440px;margin:0 auto;padding:1.5rem 2rem;background:#fff;min-height:100vh}
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid var(--line);
padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;display:block;overflow-x:auto}
td,th{border:1px solid var(--line);padding:4px 8px;vertical-align:top;text-align:left}
thead th{background:#f0f2f5;position:sticky;top:0}
tbody tr:nth-child(even){background:#fafbfc}
img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
code{background:#f0f2f5;padding:0 .25em;border-radius:3px}
table.matrix{display:table;width:100%;font-size:.9rem}
table.matrix th[scope=row]{font-weight:normal;width:30%;min-width:16rem}
table.matrix td:nth-child(2){width:8%}
table.matrix tr.section th{background:#eef1f5;font-weight:600;text-transform:uppercase;font-size:.75rem;
letter-spacing:.04em}
.v{display:inline-block;margin:1px 2px;padding:1px 6px;border-radius:10px;color:#fff;font-size:.74rem;
white-space:nowrap}
.v.holds{background:var(--holds)}.v.no{background:var(--no)}.v.inconclusive{background:var(--inconclusive)}
.v.none{background:var(--none)}
p.summary .v{font-size:.85rem}
"""
