"""--remeasure sample: which stored runs a claims run makes again, and that a changed record fails it."""

import datetime
import json
import shutil
import time
from pathlib import Path

import pytest
from repository import nested_pytest

from repro.case.grid import accuracy_run
from repro.case.protocol import ACCURACY_SEEDS
from repro.case.specs import DataSpec
from repro.files import reports_dir
from repro.verify import baselines as bl
from repro.verify import remeasure
from repro.verify.evidence import RecordedEvidence
from repro.verify.verdicts import from_baselines

ROOT = Path(__file__).resolve().parents[1]
GLYPHS = DataSpec(benchmark="glyphs")


def glyph_records():
    return from_baselines(ROOT / "baselines", "x86_64-cpu", GLYPHS)


def test_the_sampled_seed_turns_with_the_date_through_every_seed():
    monday = datetime.date(2026, 12, 7)
    week = [remeasure.day_seed(monday + datetime.timedelta(days=d)) for d in range(len(ACCURACY_SEEDS))]
    assert sorted(week) == sorted(ACCURACY_SEEDS)  # every stored run of a case, within len(seeds) days
    assert remeasure.day_seed(monday) == remeasure.day_seed(monday + datetime.timedelta(days=len(ACCURACY_SEEDS)))


def test_each_accuracy_verdict_names_the_two_sides_of_its_headline_on_the_records():
    deciding = remeasure.deciding_cases(glyph_records(), GLYPHS)
    assert set(deciding) == {"F", "G", "H-exact", "H-paper", "I", "J"}
    # F's headline is GaLore's largest gap to FFT: both sides of it, one cell
    [(m1, galore, t1), (m2, fft, t2)] = deciding["F"]
    assert (galore, fft, m1, t1) == ("galore", "fft", m2, t2)
    # J reads a ratio on every hard cell, so each cell's two runs decide it
    assert {c[1] for c in deciding["J"]} == {"lora", "galore"} and all(c[2].endswith("-hard") for c in deciding["J"])


def test_the_deciding_cases_come_from_the_records_not_from_a_list():
    records = glyph_records()
    before = remeasure.deciding_cases(records, GLYPHS)["G"]
    # push LoRA on the MobileNetV2 cell G does not read far behind FFT: G's headline moves there
    other = next(t for t in GLYPHS.tasks("mobilenet_v2") if t != before[0][2])
    key = accuracy_run("mobilenet_v2", "lora", other, 0, GLYPHS).key
    cases = records["accuracy-glyphs"]
    behind = {k: v - 0.5 if k.startswith("accuracy.after.seed") else v for k, v in cases[key].items()}
    moved = {**records, "accuracy-glyphs": {**cases, key: behind}}
    assert remeasure.deciding_cases(moved, GLYPHS)["G"] == (("mobilenet_v2", "lora", other),
                                                           ("mobilenet_v2", "fft", other))


def test_a_sample_makes_each_deciding_case_once_at_the_days_seed():
    deciding = {"X": (("resnet18", "lora", "shift-easy"), ("resnet18", "fft", "shift-easy")),
                "Y": (("resnet18", "fft", "shift-easy"), ("resnet18", "bn_stats_only", "shift-easy"))}
    specs = remeasure.sample_specs(deciding, GLYPHS, 3)
    assert [(s.method, s.seed) for s in specs] == [("lora", 3), ("fft", 3), ("bn_stats_only", 0)]
    assert specs[0] == accuracy_run("resnet18", "lora", "shift-easy", 3, GLYPHS)  # the protocol's run, unchanged


def test_a_re_made_run_equals_its_record_in_every_reading_or_says_which_differs():
    record = {"accuracy.before.seed2": 0.5, "accuracy.step25.seed2": 0.6, "accuracy.after.seed2": 0.7}
    run = {"seed": 2, "before": 0.5000001, "after": 0.7, "curve": {25: 0.6, 50: 0.7}}
    assert bl.run_differences(record, run) == []  # the record's 6 decimals
    one_unit = {**run, "curve": {25: 0.600001, 50: 0.7}}
    assert bl.run_differences(record, one_unit) == ["accuracy.step25.seed2: stored 0.6, made here 0.600001"]
    assert bl.run_differences({}, run)[0] == "accuracy.before.seed2: stored None, made here 0.5"


def test_recorded_evidence_says_its_runs_are_read_not_made():
    evidence = RecordedEvidence(glyph_records(), GLYPHS)
    case = ("resnet18", "fft", "shift-easy")
    assert evidence.provenance([case, case]) == "5 stored runs, none made here"


def run_pytest(*args, baselines=None):
    return nested_pytest(*args, *(["--repro-baselines-dir", str(baselines)] if baselines else []), timeout=900)


@pytest.mark.slow
def test_sample_is_refused_where_every_run_must_be_made():
    out = run_pytest("-m", "paper_claims", "--remeasure", "sample", "--repro-update", "--repro-reason", "x",
                     "--co")
    assert out.returncode == 4 and "--remeasure sample reads stored runs, but --repro-update" in out.stderr


@pytest.mark.slow
def test_a_record_off_by_one_unit_fails_the_day_its_run_is_sampled_and_every_day_under_all(tmp_path):
    """On the digits (the benchmark the tests pretrain; glyphs take the same path, 35 minutes of base
    models away): claim H on the digits rests on ResNet-18 LoRA and BN+H on `unseen`. One seed's `after`
    of BN+H moved by one unit in the last stored digit leaves every verdict as it was, so only making
    the run again can see it."""
    shutil.copytree(ROOT / "baselines", tmp_path / "b")
    path = bl.path(tmp_path / "b", "x86_64-cpu", "accuracy-digits")  # this CPU's kernel set's records
    data = json.loads(path.read_text())
    case, seed = "resnet18-bn_head-unseen", 1
    reading = f"accuracy.after.seed{seed}"
    stored = data["cases"][case][reading]
    data["cases"][case][reading] = round(stored + 1e-6, 6)
    path.write_text(json.dumps(data, indent=1))

    # the day that seed is sampled (--sample-seed stands in for the date; every seed has its day within a
    # week, test above): the case and the claim that reads it fail
    before = time.time()
    sampled = run_pytest("-m", "paper_claims", "--embedded-data", "digits", "-k", f"H-exact or [{case}]",
                         "--sample-seed", str(seed), baselines=tmp_path / "b")
    # its tables went to the test run's own reports folder (tests/conftest.py), not over the user's last run
    assert (reports_dir() / "claims.json").stat().st_mtime >= before and reports_dir() != ROOT / "reports"
    assert sampled.returncode == 1, sampled.stdout + sampled.stderr
    assert f"{case} seed {seed}, made again here, differs from its record" in sampled.stdout
    assert f"{reading}: stored {data['cases'][case][reading]}, made here {stored}" in sampled.stdout
    assert "claim H-exact reads stored runs that this machine does not make again" in sampled.stdout
    assert "--repro-update" in sampled.stdout  # the command that re-records it

    # --remeasure all makes every seed, whatever the day
    fresh = run_pytest("-m", "paper_claims", "--embedded-data", "digits", "--remeasure", "all", "-k",
                       f"test_accuracy_matches_baseline and [{case}]", baselines=tmp_path / "b")
    assert fresh.returncode == 1, fresh.stdout + fresh.stderr
    assert f"{reading}: " in fresh.stdout and "expected exactly" in fresh.stdout


@pytest.mark.parametrize("embedded", ["glyphs", "digits"])
def test_what_only_remeasure_all_measures_changes_no_verdict(embedded):
    """The default claims run leaves the cases no claim reads to --remeasure all (repro/case/grid.py full_only):
    every verdict derived from the records the default run makes equals the one from the full records."""
    from repro.case.grid import TIME_CASES, full_only, paper_scale_cases
    from repro.verify.claims import claim_cases
    from repro.verify.verdicts import NO_RECORD, derive

    data = DataSpec(benchmark=embedded)
    full = from_baselines(ROOT / "baselines", "x86_64-cpu", data)
    # per group: a 224 x 224 step time and its analytic cost case share a key
    left = {"costs-224px": {s.key for s in paper_scale_cases() if full_only(s)},
            "times-224px": {s.key for s in TIME_CASES if full_only(s)}}
    assert all(left.values())  # batches 1 and 32 at 224 x 224, and its step times
    default = {group: {k: v for k, v in cases.items() if k not in left.get(group, ())} for group, cases in full.items()}
    assert sum(map(len, default.values())) < sum(map(len, full.values()))
    rows = {name: derive(RecordedEvidence(records, data), claim_cases()) for name, records in
            (("default", default), ("full", full))}
    assert [r["verdict"] for r in rows["default"]].count(NO_RECORD) == 0
    assert [(r["id"], r["scale"], r["verdict"], r["measured"]) for r in rows["default"]] == \
        [(r["id"], r["scale"], r["verdict"], r["measured"]) for r in rows["full"]]
