"""Stored baselines: one JSON file per platform and case group, validated, compared, updated on purpose.

    baselines/<platform>/<group>.json      e.g. baselines/x86_64-cpu/costs.json
    baselines/<platform>/accuracy-<benchmark>.json   trained numbers, pinned kernels (repro/kernels.py)

Each file holds a schema version, the environment it was recorded in, a history of why it changed,
and per case a flat dict of metrics. Comparison tolerances live in TOLERANCES, one table.
To record or update:  pytest -m paper_claims --repro-update --repro-reason "why the numbers moved"
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import math
import os
import platform as _platform
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from repro.case.groups import ACCURACY_GROUPS, COUNTED
from repro.files import write_atomic

SCHEMA_VERSION = 1
UPDATE_HINT = 'pytest -m paper_claims --repro-update --repro-reason "<why>"'
CONSTRAINTS = "baselines/x86_64-cpu/constraints.txt"  # the versions the x86_64 baselines were recorded with


class BaselineError(ValueError):
    pass


def update_hint(case: str | None = None) -> str:
    """The command that re-records one case (`-k "[case]"` matches its test id exactly), or all."""
    if case is None:
        return UPDATE_HINT
    return f'pytest -m paper_claims -k "[{case}]" --repro-update --repro-reason "<why>"'

SCHEMA = {
    "type": "object",
    "required": ["schema_version", "group", "platform", "environment", "history", "cases"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "group": {"type": "string"},
        "platform": {"type": "string"},
        "environment": {"type": "object"},
        "history": {"type": "array", "items": {"type": "object", "required": ["date", "reason"]}},
        "cases": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    },
}


@dataclass(frozen=True)
class Exact:
    """Analytic integers (FLOPs, bytes, parameter counts): any change is a change."""

    def fails(self, name, current, baseline, *context):
        if current != baseline:
            change = _relative(current, baseline)
            return f"{name}: {baseline:,} -> {current:,} ({change}), expected exactly {baseline:,}"
        return None


@dataclass(frozen=True)
class SeedMean:
    """The statistical rule, only for a CPU that does not reproduce the records under the kernel pin
    (--accuracy-rule statistical; everywhere else a trained number is compared exactly, seed by seed).
    A mean over seeds (`<x>.mean`, stored with `<x>.sd` and `<group>.n`) moved when it is more than `z`
    standard errors of a difference of two means from the stored one, the standard error from the
    *stored* spread alone, sd * sqrt(2 / n): a regression that scatters the seeds must not widen its
    own tolerance. `floor` keeps a case whose seeds all agree (sd 0) from failing on the last digit."""
    z: float = 3.0
    floor: float = 0.001

    def fails(self, name, current, baseline, cur_all, base_all):
        stem = name.removesuffix(".mean")
        n = max(base_all.get(stem.rsplit(".", 1)[0] + ".n", 1), 1)
        se = base_all.get(stem + ".sd", 0.0) * math.sqrt(2 / n)
        allowed = max(self.z * se, self.floor)
        if abs(current - baseline) > allowed:
            return (f"{name}: {baseline:.4f} -> {current:.4f}, more than {self.z:g} standard errors "
                    f"({allowed:.4f}) apart")
        return None


@dataclass(frozen=True)
class Informational:
    """Recorded and shown, never failing: a seed spread is what the mean's rule reads, not a target."""

    def fails(self, *args):
        return None


def _relative(current, baseline):
    return f"{(current - baseline) / baseline:+.2%}" if baseline else "from zero"


# Metric pattern (fnmatch, first match wins) -> check. Wall time is never a target here: the time
# readings (time.*) are stored to be shown and re-read by the claims, and speed targets go to
# pytest-benchmark (benchmarks/). Accuracy is stored per case as mean and standard deviation over the seeds, at the
# end of the run and at each checkpoint, with the number of seeds.
TOLERANCES = {
    "params.*": Exact(),
    "flops.*": Exact(),
    # the CUDA caching allocator's peak depends on the cuDNN algorithms chosen and the driver: shown, not pinned
    "memory.cuda_max_allocated": Informational(),
    "memory.*": Exact(),
    "depthwise.*": Exact(),  # claim S1's adapter records (repro/verify/evidence.py)
    "peft.*": Exact(),
    "pre_grouped.*": Exact(),
    "time.*": Informational(),  # this machine's seconds: shown beside the FLOPs, never a pass or a failure
    # trained numbers are the same on every x86_64 CPU under the kernel pin (repro/kernels.py): each seed's
    # reading is compared exactly, and so are the mean and spread that follow from them
    "accuracy.n": Exact(),
    "accuracy.*": Exact(),
}
# --accuracy-rule statistical: a CPU that does not reproduce the records under the pin (docs/kernel-pin.md) is held
# to the stored means by SeedMean instead, its seeds shown but not compared; every table marks it
STATISTICAL = {"accuracy.n": Exact(), "accuracy.*.mean": SeedMean(), "accuracy.*": Informational()}


def tolerance(metric: str, rule: str = "exact"):
    table = STATISTICAL if rule == "statistical" and metric.startswith("accuracy.") else TOLERANCES
    for pattern, check in table.items():
        if fnmatch.fnmatchcase(metric, pattern):
            return check
    raise KeyError(f"no tolerance for metric {metric!r}; add a pattern for it to TOLERANCES in "
                   "repro/verify/baselines.py")


def compare(current: dict, baseline: dict, rule: str = "exact") -> list[str]:
    """One sentence per metric that moved, or that is new or gone (`rule`: how trained numbers compare)."""
    out = []
    for name in sorted(current.keys() | baseline.keys()):
        if name not in baseline:
            out.append(f"{name}: new metric ({current[name]}), not in the baseline")
        elif name not in current:
            out.append(f"{name}: in the baseline ({baseline[name]}) but no longer measured")
        else:
            failure = tolerance(name, rule).fails(name, current[name], baseline[name], current, baseline)
            out += [failure] if failure is not None else []
    return out


def file_name(group: str, device: str = "cpu") -> str:
    """The file of `group`. Trained groups (ACCURACY_GROUPS) depend on the CPU's kernels (repro/kernels.py): made
    with the pinned kernels, one file per vendor's kernel set, accuracy-digits.json (AMD and any non-Intel x86_64
    CPU) and accuracy-digits-intel.json; made with a CPU's own (REPRO_ISA=native, or a platform with no pin), a
    file per capability, accuracy-digits-avx512.json."""
    if group in ACCURACY_GROUPS and not device.startswith("cuda"):
        from repro import kernels  # torch: only where a trained group is named

        return f"{group}{kernels.records_suffix()}.json"  # one file per kernel set (repro/kernels.py)
    return f"{group}.json"


# COUNTED groups hold what is counted, not computed: FLOPs, bytes and parameter counts do not depend on the CPU
# that counts them (the 8 cases recorded on aarch64 under emulation, torch 2.9.1, equal x86_64's under torch
# 2.14.1; the platform's time readings and trained numbers do depend on it). So every CPU platform reads and
# writes one set of these files, under baselines/x86_64-cpu/, where they were first recorded; CUDA has its own
# (its memory records the allocator's peak too).
COUNTED_ON_CPU = "x86_64-cpu"


def folder(platform: str, group: str) -> str:
    """The folder under baselines/ that holds `group` for `platform` (a CPU platform: <machine>-cpu)."""
    return COUNTED_ON_CPU if group in COUNTED and platform.endswith("-cpu") else platform


def path(root: Path, platform: str, group: str, device: str = "cpu") -> Path:
    """Where `group`'s baseline file for `platform` lies under the baselines folder `root`."""
    return root / folder(platform, group) / file_name(group, device)


def platform_name(device: str = "cpu") -> str:
    """x86_64-cpu, aarch64-cuda, ...; $REPRO_PLATFORM overrides (the Jetson runner sets jetson-orin)."""
    name = os.environ.get("REPRO_PLATFORM")
    if name is not None:
        return check_platform(name, "$REPRO_PLATFORM")
    return f"{_platform.machine()}-{'cuda' if device.startswith('cuda') else 'cpu'}"


def check_platform(name: str, where: str = "the platform") -> str:
    """A platform key becomes a folder under baselines/: a plain name, never a path (../x would write
    outside the folder)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise BaselineError(f"{where} {name!r} is not a plain name (letters, digits, '_', '.', '-', starting with a "
                            f"letter or digit), so it cannot name a folder under baselines/; use e.g. jetson-orin")
    return name


# What a baseline's numbers depend on beyond the code: a mismatch is said before any metric diff.
ENVIRONMENT_KEYS = ("torch", "torchvision", "peft", "galore-torch", "transformers", "python", "platform")


def environment_mismatch(recorded: dict, running: dict) -> str | None:
    """One sentence naming what differs between the environment a file was recorded in and this one,
    or None. Python is compared to the minor version; a key the file did not record is not compared."""
    def norm(key, value):
        return ".".join(str(value).split(".")[:2]) if key == "python" and value else value

    diffs = [f"{k} {recorded[k]}, running {running.get(k)}" for k in ENVIRONMENT_KEYS
             if k in recorded and norm(k, recorded[k]) != norm(k, running.get(k))]
    if not diffs:
        return None
    return (f"recorded with {'; '.join(diffs)}: re-record, or install the recorded versions "
            f"(pip install -c {CONSTRAINTS} ...)")


def load(path: Path) -> dict:
    """A validated baseline file; a clear error naming the file, case and field otherwise."""
    if not path.exists():
        raise BaselineError(f"no baseline file {path}; record one with: {UPDATE_HINT}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BaselineError(f"{path} is not valid JSON ({err}); it may be truncated: restore it with "
                            f"`git checkout -- {path}` or re-record it with: {UPDATE_HINT}") from err
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        where = list(error.absolute_path)
        if where[:1] == ["schema_version"]:
            raise BaselineError(f"{path}: schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}; "
                                f"re-record it with: {UPDATE_HINT}")
        if where[:1] == ["cases"] and len(where) >= 2:
            field = f", field {where[2]!r}" if len(where) >= 3 else ""
            raise BaselineError(f"{path}: case {where[1]!r}{field}: {error.message}")
        raise BaselineError(f"{path}: {'/'.join(map(str, where)) or 'top level'}: {error.message}")
    return data


def update(path: Path, group: str, platform: str, environment: dict, cases: dict, reason: str) -> list[list]:
    """Merge `cases` into the file (cases not measured now are kept); the diff as rows."""
    if not reason.strip():
        raise BaselineError("a baseline update needs a reason: --repro-reason \"which change moved which metric\"")
    old = load(path) if path.exists() else {"cases": {}, "history": []}
    merged = {**old["cases"], **cases}
    diff = []
    for case in sorted(cases):
        before = old["cases"].get(case, {})
        for metric in sorted(cases[case].keys() | before.keys()):
            a, b = before.get(metric), cases[case].get(metric)
            if a != b:
                diff.append([case, metric, a, b])
    if not diff and path.exists():
        return diff  # nothing moved: the file and its history stay as they are
    data = {
        "schema_version": SCHEMA_VERSION,
        "group": group,
        "platform": platform,
        "environment": environment,
        "history": old["history"] + [{"date": datetime.date.today().isoformat(), "reason": reason,
                                      "cases_updated": len(cases), "metrics_changed": len(diff)}],
        "cases": dict(sorted(merged.items())),
    }
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))
    return diff


def accuracy_metrics(runs: list[dict]) -> dict:
    """A case's seeds (dicts with seed, before, after and curve), flat: mean and sd per reading, each
    seed's value, and n."""
    from repro.stats import summarize

    readings = {"before": [r["before"] for r in runs], "after": [r["after"] for r in runs]}
    for step in sorted(runs[0]["curve"])[:-1]:  # the last point is `after`
        readings[f"step{step}"] = [r["curve"][step] for r in runs]
    m = {"accuracy.n": len(runs)}
    for name, values in readings.items():
        s = summarize(values)
        m[f"accuracy.{name}.mean"], m[f"accuracy.{name}.sd"] = round(s.mean, 4), round(s.sd, 4)
        # each seed's value too: a verdict pairs methods by seed, so it can be re-derived from the record
        m |= {f"accuracy.{name}.seed{r['seed']}": round(v, 6) for r, v in zip(runs, values, strict=True)}
    return m


def accuracy_runs(metrics: dict, steps: int) -> list[dict]:
    """The seeds back out of `accuracy_metrics` (the run's last step, `after`, is `steps`)."""
    seeds = sorted(int(k.rsplit("seed", 1)[1]) for k in metrics if k.startswith("accuracy.after.seed"))
    checkpoints = sorted(int(k.split(".")[1].removeprefix("step")) for k in metrics
                         if k.startswith("accuracy.step") and k.endswith(".mean"))
    return [{"seed": s, "before": metrics[f"accuracy.before.seed{s}"], "after": metrics[f"accuracy.after.seed{s}"],
             "curve": {**{c: metrics[f"accuracy.step{c}.seed{s}"] for c in checkpoints},
                       steps: metrics[f"accuracy.after.seed{s}"]}} for s in seeds]


def cost_metrics(record) -> dict:
    """The analytic metrics of a measurement record, flat."""
    m = {f"params.{k}": v for k, v in record.params.items()}
    m |= {f"flops.{c}.{p}": v for c, phases in record.flops.items() for p, v in phases.items()}
    m |= {f"memory.categories.{k}": v for k, v in record.memory["categories"].items()}
    m |= {f"memory.peak.{k}": v for k, v in record.memory["peak"].items()}
    if record.memory.get("cuda_max_allocated") is not None:  # on CUDA: the allocator's own peak, beside them
        m["memory.cuda_max_allocated"] = record.memory["cuda_max_allocated"]
    return m


def run_differences(record: dict, run: dict) -> list[str]:
    """Each reading of a re-made run (a dict with seed, before, after, curve) that is not its record's,
    with both values; no tolerance. The readings are the run's per-seed metrics as its record stores
    them (accuracy_metrics: before, each checkpoint, after, 6 decimals); one the record lacks
    counts as a difference."""
    seed = f".seed{run['seed']}"
    made = {k: v for k, v in accuracy_metrics([run]).items() if k.endswith(seed)}
    return [f"{key}: stored {record.get(key)}, made here {value}" for key, value in made.items()
            if record.get(key) != value]
