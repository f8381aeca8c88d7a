"""The claims table from stored records: a run's results.json or the baseline files, no model built.

    python -m repro verdicts                                   from baselines/<this platform>
    python -m repro verdicts --from reports/results.json       from a claims run's records
    python -m repro verdicts --from reports/results.json --check     ... and they must be the run's verdicts
    python -m repro verdicts --from a/results.json --from b/results.json  a run's shards, joined
    python -m repro verdicts --from reports/results.json --against baselines   what moved (never fails)

Every check is a pure function of flat records (repro/verify/claims.py, repro/verify/evidence.py), so this imports
no torch and takes about a second.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from tabulate import tabulate

from repro.case.groups import COST_GROUPS, REAL_DATA_GROUP, RECORD_GROUPS, benchmark_of
from repro.case.protocol import ACCURACY_RANK, BENCHMARKS, RANKED
from repro.case.specs import DataSpec
from repro.files import write_text
from repro.stats import INCONCLUSIVE, paired, summarize
from repro.verify import baselines as bl
from repro.verify.claims import SCALES, TIME, Outcome, Verdict, at_scale, claim_cases, read_on
from repro.verify.evidence import MissingRecord, RecordedEvidence, TracedEvidence

NO_RECORD = "no record"  # the verdict of a claim whose records are missing: neither a pass nor a failure


# ---- deriving -----------------------------------------------------------------------------------

def derive(evidence: RecordedEvidence, cases=None, data_label: str | None = None) -> list[dict]:
    """Every claim's row, from records alone; a claim whose records are missing says which."""
    rows = []
    for claim, convention, scale in cases or claim_cases():
        traced = TracedEvidence(evidence.at(scale))
        try:
            verdict = claim.read(traced, convention)
        except MissingRecord as err:  # say which, and go on; a KeyError from a bug in a check is no "no record"
            rows.append({**Outcome(claim, convention, Verdict(INCONCLUSIVE, str(err)), scale=scale).row(),
                         "verdict": NO_RECORD})
            continue
        data = read_on(claim, convention, data_label or evidence.data.describe())
        rows.append(Outcome(claim, convention, verdict, data, scale, traced.provenance()).row())
    return rows


def from_results(path: Path) -> tuple[dict, list[dict], DataSpec]:
    """(records, the run's claims rows, its data) of a results.json."""
    try:
        data = json.loads(path.read_text())
        records, rows = data["measured"], data["claims"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: a claims run writes it (pytest -m paper_claims)") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a results file ({err}); re-create it with pytest -m paper_claims") from err
    if REAL_DATA_GROUP in records:
        label = next((r["data"] for r in rows if r["data"].startswith("real data under ")), "real data under ?")
        return records, rows, DataSpec(data_root=label.removeprefix("real data under "))
    benchmark = next((benchmark_of(g) for g in records if benchmark_of(g) in BENCHMARKS), "digits")
    return records, rows, DataSpec(benchmark=benchmark)


def join(parts: list[tuple[dict, list[dict], DataSpec]]) -> tuple[dict, list[dict], DataSpec]:
    """One run's records from its shards (CI runs the claims in several jobs, each with a results.json)."""
    records, rows = {}, []
    for part_records, part_rows, _ in parts:
        for group, cases in part_records.items():
            records.setdefault(group, {}).update(cases)
        rows += part_rows
    data = next((d for r, _, d in parts if d.group in r), parts[0][2])
    return records, rows, data


def from_baselines(root: Path, platform: str, data: DataSpec, capability: str | None = None) -> dict:
    """group -> case -> metrics from baselines/<platform>. Accuracy: the file made with AMD's pinned kernels
    (accuracy-<benchmark>.json, what the generated tables read on any machine), or with `capability`
    given, accuracy-<benchmark>-<capability>.json: `intel` (Intel's pinned kernels) or a CPU's own
    (repro/kernels.py)."""
    records = {}
    for group in RECORD_GROUPS:
        path = bl.path(root, platform, group)
        if path.exists():
            records[group] = bl.load(path)["cases"]
    name = f"{data.group}-{capability}.json" if capability else f"{data.group}.json"
    if (root / platform / name).exists():
        records[data.group] = bl.load(root / platform / name)["cases"]
    elif capability:
        raise FileNotFoundError(f"no {root / platform / name}: nothing was recorded with {capability} kernels")
    if not records:
        raise FileNotFoundError(f"no baseline files under {root / platform}; record them with: {bl.UPDATE_HINT}")
    return records


def differences(new: list[dict], old: list[dict], names=("the run's", "re-derived")) -> list[str]:
    """Rows whose verdict or measured text differs between two claims tables (rows only one has are
    skipped: a run with -k or a marker checks some claims only)."""
    by_key = {(r["id"], r["scale"]): r for r in old}
    out = []
    for r in new:
        s = by_key.get((r["id"], r["scale"]))
        for field in ("verdict", "measured") if s else ():
            if r[field] != s[field]:
                out.append(f"{claim_label(r)} {field}: {names[0]} {s[field]!r}, {names[1]} {r[field]!r}")
    return out


def claim_label(row) -> str:
    return at_scale(row["id"], row["scale"])


def unrecorded(derived: list[dict], rows: list[dict]) -> list[str]:
    """The labels of a run's rows that re-derive to no record (or not at all) from its own records."""
    found = {(r["id"], r["scale"]) for r in recorded(derived)}
    return [claim_label(r) for r in rows if (r["id"], r["scale"]) not in found]


def recorded(rows: list[dict]) -> list[dict]:
    """The rows whose records were there (a run with -k or a marker stores some cases only)."""
    return [r for r in rows if r["verdict"] != NO_RECORD]


def moved_metrics(records: dict, stored: dict) -> list[list]:
    """[group, case, what moved] for each case whose metrics moved beyond their tolerance."""
    out = []
    for group, cases in sorted(records.items()):
        for case, metrics in sorted(cases.items()):
            if case in stored.get(group, {}):
                out += [[group, case, p] for p in bl.compare(metrics, stored[group][case])]
    return out


# ---- the tables ---------------------------------------------------------------------------------

def by_scale(rows: list[dict]) -> list[dict]:
    """One line per claim and convention, with the measurement and verdict at each scale."""
    table, whys = {}, {}
    for r in rows:
        t = table.setdefault(r["id"], {k: r[k] for k in ("id", "source", "claim", "paper", "data")}
                             | {"why": "", "section": r.get("section", "paper"), "runs": r.get("runs", "")})
        t[f"measured {r['scale']}"], t[f"verdict {r['scale']}"] = r["measured"], r["verdict"]
        if r["why"]:
            whys.setdefault(r["id"], {})[r["scale"]] = r["why"]
    for row_id, by in whys.items():  # one reason said once; reasons that differ, each with its scale, 32px first
        ordered = [(s, by[s]) for s in SCALES if s in by]
        table[row_id]["why"] = ordered[0][1] if len(set(by.values())) == 1 else " ".join(
            f"{s}: {w}" for s, w in ordered)
    return list(table.values())


SECTIONS = {"paper": "claims of arXiv 2507.23536", "finding": "findings of this suite (not claims of the paper)"}
# a row's `paper` field is the value its verdict is held to: the paper's number where it gives one, this suite's
# reading of its words where it does not (marked so in the value), and the suite's own for a finding
HEADERS = {"paper": "held to"}
SCALE_COLUMNS = [f"{k} {s}" for s in SCALES for k in ("measured", "verdict")]


def sections(rows: list[dict]):
    """(title, by-scale table) for the paper's claims, then the suite's own findings, where there are any."""
    table = by_scale(sorted(rows, key=lambda r: (r["id"], r["scale"])))
    for section, title in SECTIONS.items():
        if part := [t for t in table if t["section"] == section]:
            yield title, part


def terminal_tables(rows: list[dict]) -> str:
    """The claims, then the suite's own findings, one table each."""
    out = []
    for title, table in sections(rows):
        out += [f"== {title} ==", tabulate([[t["id"], t["paper"], *(t.get(c, "") for c in SCALE_COLUMNS)]
                                            for t in table], headers=["id", HEADERS["paper"], *SCALE_COLUMNS],
                                           maxcolwidths=[8, 18, 44, 12, 44, 12])]
    sourced = [r for r in sorted(rows, key=lambda r: (r["id"], r["scale"])) if r.get("runs")]
    if sourced:  # a reader must never take a stored number for one measured here
        out.append("where the accuracy verdicts' runs come from (" + sourced[0]["data"] + "):")
        out += [f"  {claim_label(r)}: {r['runs']}" for r in sourced]
    undecided = sorted({claim_label(r) for r in rows if r["verdict"] == "inconclusive"})
    if undecided:
        out.append(f"inconclusive (an interval across a band's edge: neither holds nor fails): {', '.join(undecided)}")
    return "\n".join(out)


def markdown(rows: list[dict], style: str = "full", title: bool = True) -> str:
    """The claims tables in Markdown: `full`, every column (reports/claims.md, docs), or `brief`, the claim,
    the value it is held to and the verdict at each scale (README)."""
    columns = {"full": ["id", "source", "claim", "paper", *SCALE_COLUMNS, "why", "data", "runs"],
               "brief": ["id", "claim", "paper", *(f"verdict {s}" for s in SCALES)]}[style]
    text = ["# Claims of arXiv 2507.23536", ""] if title else []
    for heading, table in sections(rows):
        text += [f"{'##' if title else '###'} {heading[0].upper()}{heading[1:]}", "",
                 tabulate([[t.get(c, "") or "-" for c in columns] for t in table],
                          headers=[HEADERS.get(c, c) for c in columns],
                          tablefmt="github"), ""]
    return "\n".join(text).rstrip() + "\n"


# A generated table in a committed file sits between these lines; `--write` refills it from the records and
# tests/test_docs.py fails when a committed one differs from them.
BEGIN = ("<!-- verdicts {style}: generated from baselines/{platform} by: "
         "python -m repro verdicts --platform {platform} --write {files}; do not edit -->")
END = "<!-- end of generated verdicts -->"
STYLES = ("brief", "full", "accuracy", "calibration", "flops")
BLOCK = re.compile(rf"<!-- verdicts ({'|'.join(STYLES)}): generated from baselines/([\w.-]+) .*?-->\n.*?"
                   r"<!-- end of generated verdicts -->", re.S)
# the committed files with generated tables
GENERATED_IN = ("README.md", "docs/claims.md", "docs/accuracy.md", "docs/paper.md")


def fill(text: str, tables) -> str:
    """`text` with each generated block refilled; tables(style, platform) -> the Markdown of that block."""
    def block(m):
        style, platform = m.group(1), m.group(2)
        begin = BEGIN.format(style=style, platform=platform, files=" ".join(GENERATED_IN))
        return f"{begin}\n\n{tables(style, platform)}\n{END}"
    return BLOCK.sub(block, text)


# ---- command line -------------------------------------------------------------------------------

def add_arguments(ap: argparse.ArgumentParser) -> None:
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--from", dest="results", action="append", default=None,
                        help="a run's records (reports/results.json); repeat it to join the shards of one run")
    source.add_argument("--baselines", default=None, help="a baselines folder (default: baselines, when --from "
                        "is not given)")
    ap.add_argument("--platform", default=None, help="baselines/<platform> (default: this machine's)")
    ap.add_argument("--benchmark", choices=BENCHMARKS, default="glyphs", help="the accuracy records to read "
                    "from baselines, as the claims run does (--from reads the run's own)")
    ap.add_argument("--cpu-capability", default=None, help="read accuracy-<benchmark>-<capability>.json instead of "
                    "AMD's pinned records, accuracy-<benchmark>.json: 'intel' for Intel's pinned records, or a "
                    "capability (avx512, ...) for a CPU's own kernels (REPRO_ISA=native)")
    ap.add_argument("--check", action="store_true", help="with --from: exit 1 unless every re-derived verdict "
                    "and measurement equals the run's own")
    ap.add_argument("--markdown", nargs="?", const="full", choices=("full", "brief"), default=None,
                    help="print the claims tables in Markdown (full: every column; brief: the verdicts, as README "
                    "shows them) instead of the terminal's")
    ap.add_argument("--write", nargs="+", metavar="FILE", default=None,
                    help="refill the generated tables in these files (README.md docs/claims.md docs/accuracy.md "
                    "docs/paper.md) "
                    "from the records, each from the platform its marker names")
    ap.add_argument("--against", default=None, metavar="BASELINES", help="with --from: list the verdicts and "
                    "metrics that differ from these baselines (informational: exit 0, unless --strict)")
    ap.add_argument("--strict", action="store_true", help="with --against: exit 1 when a verdict differs from the "
                    "one the baselines give, or when a claim the baselines decide has no verdict in the run (the "
                    "time readings excepted: they are the running machine's)")


ACCURACY_COLUMNS = {"fft": "FFT", "lora": "LoRA", "dora": "DoRA", "galore": "GaLore", "bn_head": "BN+H",
                    "head": "head-only", "bn_stats_only": "BN stats"}


def _seeds(metrics: dict, which: str) -> list[float]:
    return [metrics[k] for k in sorted(metrics) if k.startswith(f"accuracy.{which}.seed")]


def accuracy_markdown(cases: dict, data: DataSpec) -> str:
    """A benchmark's accuracy records as one table: per cell (model x task) the accuracy before adaptation
    and each method's after it, mean +- the half-width of its 95% interval over the seeds, in %."""
    from repro.case.grid import accuracy_cases
    rows = {}
    for spec in accuracy_cases(data=data):
        m = cases.get(spec.key)
        if m is None:
            continue
        row = rows.setdefault((spec.model, spec.scenario), {"before": f"{100 * m['accuracy.before.mean']:.1f}"})
        seeds = _seeds(m, "after")
        s = summarize(seeds)
        half = "" if len(seeds) == 1 else f" +-{100 * (s.hi - s.mean):.1f}"  # one seed has no interval
        row[spec.method] = f"{100 * s.mean:.1f}{half}"
    headers = ["cell", "before", *(f"{v} r{ACCURACY_RANK}" if k in RANKED else v for k, v in ACCURACY_COLUMNS.items())]
    table = [[f"{model} {task}", row["before"], *(row.get(k, "") for k in ACCURACY_COLUMNS)]
             for (model, task), row in rows.items()]
    return tabulate(table, headers=headers, tablefmt="github", disable_numparse=True) + "\n"


def _gap_cell(fft: dict | None, head: dict | None) -> str:
    if fft is None or head is None:
        return "-"
    f, h = _seeds(fft, "after"), _seeds(head, "after")
    return f"{summarize(f).points()} / {summarize(h).points()}, gap {100 * paired(f, h).mean:.1f}"


def _bn_cell(bn: dict | None) -> str:
    return "-" if bn is None else f"{100 * bn['accuracy.before.seed0']:.1f} -> {100 * bn['accuracy.after.seed0']:.1f}"


def _gain_cell(fft: dict | None, mid: int) -> str:
    if fft is None or f"accuracy.step{mid}.seed0" not in fft:
        return "-"
    g = summarize([a - b for a, b in zip(_seeds(fft, "after"), _seeds(fft, f"step{mid}"), strict=True)])
    return f"{100 * g.mean:+.1f} [{100 * g.lo:+.1f}, {100 * g.hi:+.1f}]"


def _sd_cell(ffts: list) -> str:
    sds = [summarize(_seeds(m, "after")).sd for m in ffts if m is not None]
    return f"{100 * max(sds):.1f}" if sds else "-"


def calibration_markdown(cases: dict, data: DataSpec) -> str:
    """What the calibration's criteria read (repro/learn/calibration.py), from the reference methods' records:
    per task FFT and head-only (mean [95% interval] over the seeds) and their gap paired by seed, the shifted
    accuracy before and after BN statistics alone (seed 0), FFT's gain over the second half of the steps on
    the hard tasks and FFT's largest seed standard deviation, in points."""
    from repro.case.protocol import ACCURACY_MODELS
    from repro.case.specs import GLYPH_TASKS

    steps, mid = data.protocol.steps, data.protocol.steps // 2
    shifts = [t for t in GLYPH_TASKS if t.startswith("shift")]
    hard = [t for t in GLYPH_TASKS if not t.endswith("easy")]
    columns = []
    for model in ACCURACY_MODELS:
        fft = {t: cases.get(f"{model}-fft-{t}") for t in GLYPH_TASKS}
        columns.append([*(_gap_cell(fft[t], cases.get(f"{model}-head-{t}")) for t in GLYPH_TASKS),
                        *(_bn_cell(cases.get(f"{model}-bn_stats_only-{t}")) for t in shifts),
                        " / ".join(_gain_cell(fft[t], mid) for t in hard), _sd_cell(list(fft.values()))])
    labels = [*(f"{t}: FFT / head-only, gap" for t in GLYPH_TASKS), *(f"{t}: shifted -> BN statistics alone"
                                                                    for t in shifts),
              f"FFT's gain from step {mid} to {steps} on {' / '.join(hard)}", "FFT's largest seed standard deviation"]
    return tabulate([[label, *cells] for label, *cells in zip(labels, *columns, strict=True)],
                    headers=["", *ACCURACY_MODELS], tablefmt="github", disable_numparse=True) + "\n"


FLOP_COLUMNS = {"bn_head": "BN+H", "lora-r1": "LoRA r1", "lora-r8": "LoRA r8", "lora-r32": "LoRA r32",
                "galore-r8": "GaLore r8", "head": "head-only"}
COUNTING = {"exact": "exact (groups counted)", "paper": "paper (the profiler's rules)"}


def flops_markdown(cases: dict) -> str:
    """The FLOP reduction of one update against full fine-tuning (1 - method / FFT), in both counting
    conventions, for the paper's two models at batch 8, 32x32: the cost records themselves."""
    table = []
    for model in ("mobilenet_v2", "resnet18"):
        fft = cases[f"{model}-fft"]
        for convention, label in COUNTING.items():
            total = f"flops.{convention}.total"
            table.append([model, label, *(f"{100 * (1 - cases[f'{model}-{k}'][total] / fft[total]):.1f}%"
                                          for k in FLOP_COLUMNS)])
    return tabulate(table, headers=["model", "counting", *FLOP_COLUMNS.values()], tablefmt="github",
                    disable_numparse=True) + "\n"


def generated(root: Path, style: str, platform: str, data: DataSpec) -> str:
    """A committed file's generated table, from baselines/<platform>: the claims derived from the records in
    `style` (brief, full), or the benchmark's accuracy records themselves (accuracy)."""
    records = from_baselines(root, platform, data)
    if style == "accuracy":
        return accuracy_markdown(records[data.group], data)
    if style == "calibration":
        return calibration_markdown(records[data.group], data)
    if style == "flops":
        return flops_markdown(records[COST_GROUPS["32px"]])
    return markdown(derive(RecordedEvidence(records, data)), style, title=False)


def write(files: list[str], root: Path, data: DataSpec) -> None:
    for name in files:
        path = Path(name)
        text = path.read_text()
        if not BLOCK.search(text):
            raise ValueError(f"{path} has no generated verdicts block; add the two marker lines "
                             f"({BEGIN.split(':')[0].format(style='brief')}: ... and {END})")
        new = fill(text, lambda style, platform: generated(root, style, platform, data))
        write_text(path, new)
        print(f"{path}: {'refilled' if new != text else 'already equal to the records'}")


def run(args) -> int:
    start = time.perf_counter()
    if args.write:
        if args.results:
            raise ValueError("--write fills committed tables from the baselines, not a run's --from records")
        write(args.write, Path(args.baselines or "baselines"), DataSpec(benchmark=args.benchmark))
        return 0
    platform = bl.check_platform(args.platform, "--platform") if args.platform else bl.platform_name()
    stored_rows = None
    if args.results:
        records, stored_rows, data = join([from_results(Path(p)) for p in args.results])
        where = ", ".join(args.results)
    else:
        data = DataSpec(benchmark=args.benchmark)
        records = from_baselines(Path(args.baselines or "baselines"), platform, data, args.cpu_capability)
        where = f"{args.baselines or 'baselines'}/{platform}"
    rows = derive(RecordedEvidence(records, data))
    if stored_rows is not None:  # where the run's accuracy verdicts came from, not this re-derivation
        runs = {(r["id"], r["scale"]): r.get("runs", "") for r in stored_rows}
        rows = [{**r, "runs": runs.get((r["id"], r["scale"]), r["runs"])} for r in rows]
    if args.markdown:
        print(markdown(rows, args.markdown), end="")
        return 0
    print(terminal_tables(rows))
    print(f"re-derived {len(rows)} verdicts from {where} in {time.perf_counter() - start:.1f} s, no model built")
    status = 0
    if args.check:
        status = check(rows, stored_rows)
    if args.against:
        status = against(args, rows, records, stored_rows, platform, data) or status
    elif args.strict:
        raise ValueError("--strict compares a run with baselines: give --from reports/results.json --against baselines")
    return status


def check(rows: list[dict], stored_rows: list[dict] | None) -> int:
    """--check: the re-derived verdicts against the run's own; 1 when one differs."""
    if stored_rows is None:
        raise ValueError("--check compares with a run's own verdicts: give --from reports/results.json")
    diffs = differences(rows, stored_rows)
    print("\n".join(diffs) if diffs else f"every verdict equals the run's own ({len(stored_rows)} checked)")
    return 1 if diffs else 0


def against(args, rows: list[dict], records: dict, stored_rows: list[dict] | None, platform: str,
            data: DataSpec) -> int:
    """--against: what moved between a run and the baselines; with --strict, 1 when a claim the baselines decide
    is missing from the run or differs."""
    if stored_rows is None:
        raise ValueError("--against compares a run with baselines: give --from reports/results.json")
    base = from_baselines(Path(args.against), platform, data, args.cpu_capability)
    expected = derive(RecordedEvidence(base, data))
    moved = differences(recorded(rows), expected, ("baselines", "this run"))
    print(f"verdicts that differ from {args.against}/{platform}:")
    print("\n".join(f"  {m}" for m in moved) or "  none")
    metrics = moved_metrics(records, base)
    print(f"metrics that moved beyond their tolerance: {len(metrics)}")
    if metrics:
        print(tabulate(metrics, headers=["group", "case", "what moved"], maxcolwidths=[14, 36, 80]))
    if not args.strict:
        return 0
    problems = strictly(stored_rows, expected)
    print("\n".join(problems) if problems else f"every claim of {args.against}/{platform} has its verdict "
          f"in the run, and each equals the baselines' (time readings excepted)")
    return 1 if problems else 0


def strictly(rows: list[dict], expected: list[dict]) -> list[str]:
    """What a complete run lacks or moved against the baselines' verdicts: every claim they decide must have
    a verdict that the run's tests gave (`rows`, not a re-derivation: a claim no test checked is missing),
    equal to theirs. A time reading is the running machine's, so it is left out."""
    timeless = [r for r in recorded(expected) if r["convention"] != TIME]
    have = {(r["id"], r["scale"]) for r in recorded(rows)}
    missing = [f"{claim_label(r)}: the baselines decide it, the run has no verdict for it" for r in timeless
               if (r["id"], r["scale"]) not in have]
    ours = [r for r in recorded(rows) if r["convention"] != TIME]
    return missing + differences(ours, timeless, ("baselines", "this run"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m repro verdicts", description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
