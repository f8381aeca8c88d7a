"""`python -m repro verdicts`: the claims table from stored records, with no torch and no model."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import SYNTHETIC, records_of

from repro.case.specs import GLYPHS
from repro.verify.claims import Outcome, claim_cases
from repro.verify.evidence import RecordedEvidence
from repro.verify.verdicts import derive, join

ROOT = Path(__file__).resolve().parents[1]


def results_file(path: Path, fake, tamper=None, write=True):
    """A results.json as a glyph claims run writes it, with the rows the live checks give (on the
    calibrated cells, as the glyph evidence reads them; a copy, since the fakes are shared)."""
    fake = copy.copy(fake)
    fake.cells = GLYPHS.protocol.cells
    rows = [Outcome(c, conv, c.read(fake, conv), GLYPHS.describe() if c.kind == "accuracy" else
                    "analytic (no data)", scale).row() for c, conv, scale in claim_cases() if scale == "32px"]
    if tamper:
        next(r for r in rows if r["id"] == tamper)["verdict"] = "holds?"
    text = json.dumps({"schema": 1, "environment": {}, "claims": rows, "measured": records_of(fake, GLYPHS)})
    if not write:
        return text
    path.write_text(text)
    return path


def verdicts(*args):
    return subprocess.run([sys.executable, "-m", "repro", "verdicts", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_a_run_re_derives_to_its_own_verdicts_and_a_changed_one_is_named(tmp_path):
    holding, _ = SYNTHETIC["F"]
    out = verdicts("--from", results_file(tmp_path / "ok.json", holding), "--check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "every verdict equals the run's own" in out.stdout and "no model built" in out.stdout
    out = verdicts("--from", results_file(tmp_path / "bad.json", holding, tamper="G"), "--check")
    assert out.returncode == 1 and "G verdict: the run's 'holds?'" in out.stdout


def test_the_paper_claims_and_the_suite_findings_are_two_tables(tmp_path):
    out = verdicts("--from", results_file(tmp_path / "r.json", SYNTHETIC["A"][0]))
    paper, ours = out.stdout.index("== claims of arXiv"), out.stdout.index("== findings of this suite")
    assert paper < ours and "\nBE-exact" in out.stdout[ours:] and "\nBE-exact" not in out.stdout[paper:ours]


def test_verdicts_from_the_stored_baselines_import_no_torch():
    code = ("import sys; from repro.__main__ import main; code = main(['verdicts', '--baselines', 'baselines', "
            "'--platform', 'x86_64-cpu']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"re-derived {len(claim_cases())} verdicts" in out.stdout


def test_a_missing_record_is_named_not_guessed():
    rows = derive(RecordedEvidence({}, GLYPHS))
    assert {r["verdict"] for r in rows} == {"no record"}
    assert "no record of resnet18-lora-r8 in costs" in next(r for r in rows if r["id"] == "C")["measured"]


def test_the_shards_of_a_run_join_into_one(tmp_path):
    fake = SYNTHETIC["A"][0]
    whole = json.loads(results_file(tmp_path / "r.json", fake).read_text())
    parts = []
    for group, cases in whole["measured"].items():
        parts.append(({group: cases}, [r for r in whole["claims"] if r["id"] == "A"] if group == "costs" else [],
                      GLYPHS))
    records, rows, data = join(parts)
    assert records == whole["measured"] and [r["id"] for r in rows] == ["A"] and data == GLYPHS


def test_a_complete_run_has_every_verdict_the_baselines_decide_and_the_same_ones(tmp_path):
    """--against baselines --strict, as CI's verdicts job runs it over the full re-measure: a claim that no
    test of the run checked fails it, as does a verdict that differs from the stored records' one."""
    from repro.verify.verdicts import from_baselines

    records = from_baselines(ROOT / "baselines", "x86_64-cpu", GLYPHS)
    rows = derive(RecordedEvidence(records, GLYPHS))

    def strict(claims):
        path = tmp_path / "results.json"
        path.write_text(json.dumps({"schema": 1, "environment": {}, "claims": claims, "measured": records}))
        return verdicts("--from", path, "--against", "baselines", "--platform", "x86_64-cpu", "--strict")

    whole = strict(rows)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert "every claim of baselines/x86_64-cpu has its verdict in the run" in whole.stdout
    lacking = strict([r for r in rows if r["id"] != "F"])  # the glyph claims' slice that never ran
    assert lacking.returncode == 1 and "F: the baselines decide it, the run has no verdict for it" in lacking.stdout
    moved = strict([{**r, "verdict": "holds"} if r["id"] == "C" and r["scale"] == "32px" else r for r in rows])
    assert moved.returncode == 1 and "C verdict: baselines 'does not reproduce', this run 'holds'" in moved.stdout
    time_only = strict([r for r in rows if r["id"] != "B-time"])  # this machine's seconds: never required
    assert time_only.returncode == 0, time_only.stdout


@pytest.mark.parametrize("args, message", [
    (["--from", "no/such/results.json"], "not found: a claims run writes it"),
    (["--check"], "--check compares with a run's own verdicts"),
    (["--platform", "../x"], "is not a plain name"),
    (["--strict"], "--strict compares a run with baselines"),
])
def test_bad_input_is_one_line_naming_the_fix(args, message):
    out = verdicts(*args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_the_terminal_table_never_breaks_a_verdict_across_lines():
    """tabulate breaks a word longer than its column: the verdict columns were 10 wide ("inconclusi/ve")."""
    from repro.verify.verdicts import terminal_tables

    rows = [{**row, "verdict": verdict} for row, verdict in zip(
        json.loads(results_file(Path("/dev/null"), SYNTHETIC["F"][0], write=False))["claims"],
        ["inconclusive", "does not reproduce", "holds"] * 40, strict=False)]
    table = terminal_tables(rows)
    assert "inconclusive" in table and "inconclusi\n" not in table and "inconclusi " not in table


def test_a_count_of_bytes_reads_as_english():
    from repro.verify.claims import BANDS

    assert str(BANDS["K"]) == "at least 1 byte"


def test_a_key_error_from_a_bug_in_a_check_is_raised_not_read_as_no_record():
    cases = [c for c in claim_cases() if c[0].id == "A" and c[2] == "32px"]
    broken = {"costs": {key: {} for key in records_of(SYNTHETIC["A"][0], GLYPHS)["costs"]}}  # every metric gone
    with pytest.raises(KeyError):
        derive(RecordedEvidence(broken), cases)
    assert {r["verdict"] for r in derive(RecordedEvidence({}), cases)} == {"no record"}  # a missing record is


def test_a_verdict_the_records_cannot_give_again_is_named():
    from repro.verify.verdicts import unrecorded

    rows = json.loads(results_file(Path("/dev/null"), SYNTHETIC["A"][0], write=False))["claims"]
    assert unrecorded(derive(RecordedEvidence(records_of(SYNTHETIC["A"][0], GLYPHS), GLYPHS)), rows) == []
    lost = unrecorded(derive(RecordedEvidence({}, GLYPHS)), rows)  # a shard that stored no cost record
    assert len(lost) == len(rows) and "A" in lost


def test_measured_evidence_keeps_what_it_measures_where_recorded_evidence_reads_it():
    """So a claims shard that profiles its own cases (no test_costs.py beside it) can re-derive them."""
    from types import SimpleNamespace

    from repro.verify.evidence import MeasuredEvidence

    def measure(spec):
        return SimpleNamespace(params={"trainable": spec.rank or 1}, flops={"exact": {"total": 7}},
                               memory={"categories": {"activation": 3}, "peak": {"simultaneous": 5}})

    kept = {}
    live = MeasuredEvidence(measure, timings=lambda spec: {"time.reduction": 0.5}, data=GLYPHS,
                            record=lambda group, key, metrics: kept.setdefault(group, {}).__setitem__(key, metrics))
    for scale in ("32px", "224px"):
        assert live.at(scale).cost("resnet18", "lora", 8) == RecordedEvidence(kept, GLYPHS).at(scale).cost(
            "resnet18", "lora", 8)
        assert live.at(scale).time("resnet18", "lora", 8) == RecordedEvidence(kept, GLYPHS).at(scale).time(
            "resnet18", "lora", 8)
    assert live.cost("resnet18", "lora", 8, lora_dropout=0.1) == RecordedEvidence(kept, GLYPHS).cost(
        "resnet18", "lora", 8, lora_dropout=0.1)


def test_a_reason_shared_by_both_scales_is_said_once_and_different_ones_in_scale_order():
    from repro.verify.verdicts import by_scale

    def row(scale, why):
        return {"id": "C", "source": "[S]", "claim": "c", "paper": "p", "data": "d", "scale": scale,
                "measured": "m", "verdict": "holds", "why": why}

    assert by_scale([row("224px", "same"), row("32px", "same")])[0]["why"] == "same"
    assert by_scale([row("224px", "big"), row("32px", "small")])[0]["why"] == "32px: small 224px: big"


def test_a_row_says_what_its_verdict_was_read_on():
    from repro.verify.claims import TIME, read_on

    claims = {c.kind: c for c, _, _ in claim_cases()}
    assert read_on(claims["accuracy"], None, "embedded glyphs") == "embedded glyphs"
    cost = next(c for c, conv, _ in claim_cases() if conv == TIME)
    assert read_on(cost, TIME, "embedded glyphs") == "step times measured on this machine"
    assert read_on(cost, "exact", "embedded glyphs") == "analytic (no data)"
