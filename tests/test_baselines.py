"""Baseline files: round trip, comparison, atomic writes, and the errors for broken files."""

import json
from pathlib import Path

import pytest

from repro.verify import baselines as bl

ROOT = Path(__file__).resolve().parents[1]

CASES = {"resnet18-fft": {"flops.exact.total": 1000, "memory.peak.simultaneous": 2048, "params.total": 10},
         "resnet18-lora-r8-shift-hard": {"accuracy.n": 5, "accuracy.after.mean": 0.91, "accuracy.after.sd": 0.02}}


@pytest.fixture
def recorded(tmp_path):
    path = tmp_path / "x86_64-cpu" / "costs.json"
    bl.update(path, "costs", "x86_64-cpu", {"torch": "2.14.1"}, CASES, "first recording")
    return path


def test_round_trip(recorded):
    data = bl.load(recorded)
    assert data["cases"] == CASES and data["history"][0]["reason"] == "first recording"
    # integers stay integers through JSON, so an exact metric is compared as the integer it was
    assert {type(v) for m in data["cases"].values() for v in m.values()} == {type(v) for m in CASES.values()
                                                                             for v in m.values()}


def test_changed_metric_fails_with_the_diff(recorded):
    baseline = bl.load(recorded)["cases"]["resnet18-fft"]
    moved = {**baseline, "flops.exact.total": 1100}
    assert bl.compare(moved, baseline) == [
        "flops.exact.total: 1,000 -> 1,100 (+10.00%), expected exactly 1,000"]


def test_trained_numbers_are_compared_seed_by_seed_exactly():
    base = {"accuracy.n": 5, "accuracy.after.mean": 0.91, "accuracy.after.sd": 0.02, "accuracy.after.seed0": 0.9}
    assert bl.compare(dict(base), base) == []
    assert bl.compare({**base, "accuracy.after.seed0": 0.900001}, base) == [
        "accuracy.after.seed0: 0.9 -> 0.900001 (+0.00%), expected exactly 0.9"]
    # a regression that scatters the seeds widened the old rule's tolerance (it read the current spread too)
    assert bl.compare({**base, "accuracy.after.mean": 0.945, "accuracy.after.sd": 0.2}, base) != []


def test_the_statistical_rule_reads_the_stored_spread_alone():
    """Only for a CPU that does not reproduce the records under the pin (--accuracy-rule statistical)."""
    base = {"accuracy.n": 5, "accuracy.after.mean": 0.91, "accuracy.after.sd": 0.02, "accuracy.after.seed0": 0.9}
    # 3 * 0.02 * sqrt(2 / 5) = 0.0379
    assert bl.compare({**base, "accuracy.after.mean": 0.945, "accuracy.after.seed0": 0.95}, base, "statistical") == []
    assert bl.compare({**base, "accuracy.after.mean": 0.95}, base, "statistical") == [
        "accuracy.after.mean: 0.9100 -> 0.9500, more than 3 standard errors (0.0379) apart"]
    # scattered seeds do not widen it: the same shift with a current sd of 0.2 still fails
    assert bl.compare({**base, "accuracy.after.mean": 0.95, "accuracy.after.sd": 0.2}, base, "statistical") != []
    still = {"accuracy.n": 5, "accuracy.after.mean": 0.5, "accuracy.after.sd": 0.0}
    assert bl.compare({**still, "accuracy.after.mean": 0.5005}, still, "statistical") == []
    assert bl.compare({**still, "accuracy.after.mean": 0.51}, still, "statistical") != []


def test_accuracy_metrics_summarise_the_seeds():
    runs = [{"seed": s, "before": 0.1, "after": a, "curve": {25: a - 0.2, 50: a - 0.1, 100: a}}
            for s, a in enumerate((0.5, 0.6, 0.7))]
    m = bl.accuracy_metrics(runs)
    assert m["accuracy.n"] == 3 and m["accuracy.after.mean"] == 0.6 and m["accuracy.after.sd"] == 0.1
    assert m["accuracy.step25.mean"] == 0.4 and "accuracy.step100.mean" not in m
    assert m["accuracy.after.seed2"] == 0.7 and m["accuracy.step50.seed0"] == 0.4
    assert bl.compare({**m, "accuracy.after.seed2": 0.71}, m) != []  # each seed is compared


def test_new_and_missing_metrics_are_named():
    assert bl.compare({"params.total": 1, "params.trainable": 1}, {"params.total": 1, "flops.exact.total": 3}) == [
        "flops.exact.total: in the baseline (3) but no longer measured",
        "params.trainable: new metric (1), not in the baseline"]


def test_update_keeps_cases_it_did_not_run_and_reports_the_diff(recorded):
    diff = bl.update(recorded, "costs", "x86_64-cpu", {}, {"resnet18-fft": {**CASES["resnet18-fft"],
                                                                               "params.total": 11}}, "params moved")
    assert diff == [["resnet18-fft", "params.total", 10, 11]]
    data = bl.load(recorded)
    assert data["cases"]["resnet18-lora-r8-shift-hard"] == CASES["resnet18-lora-r8-shift-hard"]
    assert [h["reason"] for h in data["history"]] == ["first recording", "params moved"]


def test_update_with_nothing_changed_leaves_the_file(recorded):
    before = recorded.read_text()
    assert bl.update(recorded, "costs", "x86_64-cpu", {}, {"resnet18-fft": CASES["resnet18-fft"]}, "again") == []
    assert recorded.read_text() == before


def test_update_needs_a_reason(recorded):
    with pytest.raises(bl.BaselineError, match="a baseline update needs a reason"):
        bl.update(recorded, "costs", "x86_64-cpu", {}, CASES, " ")


def test_interrupted_write_leaves_the_old_file(recorded, monkeypatch):
    before = recorded.read_bytes()

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("repro.files.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        bl.update(recorded, "costs", "x86_64-cpu", {}, {"resnet18-fft": {"params.total": 99}}, "crash")
    assert recorded.read_bytes() == before
    assert not list(recorded.parent.glob("*.partial"))


def test_truncated_file(recorded):
    recorded.write_text(recorded.read_text()[:40])
    with pytest.raises(bl.BaselineError, match=r"costs.json is not valid JSON .* it may be truncated: restore it"):
        bl.load(recorded)


def test_wrong_schema_version(recorded):
    data = json.loads(recorded.read_text())
    recorded.write_text(json.dumps({**data, "schema_version": 0}))
    with pytest.raises(bl.BaselineError, match="schema_version 0 is not 1; re-record it with: pytest -m paper_claims"):
        bl.load(recorded)


def test_corrupt_metric_names_file_case_and_field(recorded):
    data = json.loads(recorded.read_text())
    data["cases"]["resnet18-fft"]["flops.exact.total"] = "lots"
    recorded.write_text(json.dumps(data))
    with pytest.raises(bl.BaselineError, match=r"costs.json: case 'resnet18-fft', field 'flops.exact.total': "
                                               r"'lots' is not of type 'number'"):
        bl.load(recorded)


def test_missing_file_says_how_to_record(tmp_path):
    with pytest.raises(bl.BaselineError, match="no baseline file .*nothing.json; record one with: pytest -m paper"):
        bl.load(tmp_path / "nothing.json")


def test_every_stored_metric_has_the_tolerance_its_kind_needs():
    """Counted metrics exact, seconds never deciding, a trained reading exact seed by seed (and held to the
    stored mean under the statistical rule): for every metric of every stored file, not a hand-picked few."""
    stored = {m for f in ROOT.glob("baselines/*/*.json") for case in json.loads(f.read_text())["cases"].values()
              for m in case}
    assert any(m.startswith("accuracy.") for m in stored) and any(m.startswith("time.") for m in stored)
    for metric in stored:
        kind = type(bl.tolerance(metric)).__name__
        want = "Informational" if metric.startswith("time.") or metric == "memory.cuda_max_allocated" else "Exact"
        assert kind == want, metric
        if metric.startswith("accuracy.") and metric.endswith(".mean"):
            assert type(bl.tolerance(metric, "statistical")).__name__ == "SeedMean", metric
    with pytest.raises(KeyError, match="no tolerance for metric 'seconds'"):
        bl.tolerance("seconds")


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", ".hidden", "", "x y"])
def test_a_platform_key_that_is_not_a_plain_name_stops_before_it_becomes_a_path(name, monkeypatch):
    monkeypatch.setenv("REPRO_PLATFORM", name)
    with pytest.raises(bl.BaselineError, match="not a plain name"):
        bl.platform_name()


def test_a_plain_platform_key_is_used_as_given(monkeypatch):
    monkeypatch.setenv("REPRO_PLATFORM", "jetson-orin_nx.8gb")
    assert bl.platform_name() == "jetson-orin_nx.8gb"


def test_an_environment_mismatch_names_each_version_and_the_fix():
    recorded = {"torch": "2.14.1", "peft": "0.21.2", "python": "3.11.7", "platform": "Linux-x86_64"}
    assert bl.environment_mismatch(recorded, {**recorded, "python": "3.11.9", "transformers": "6.0"}) is None
    text = bl.environment_mismatch(recorded, {**recorded, "peft": "0.22.0"})
    assert text.startswith("recorded with peft 0.21.2, running 0.22.0") and bl.CONSTRAINTS in text


def test_the_re_record_hint_selects_just_that_case():
    assert bl.update_hint("mobilenet_v2-lora-r8") == (
        'pytest -m paper_claims -k "[mobilenet_v2-lora-r8]" --repro-update --repro-reason "<why>"')


def test_a_cuda_peak_is_recorded_and_never_fails():
    from types import SimpleNamespace

    record = SimpleNamespace(params={"total": 1}, flops={"exact": {"total": 2}},
                             memory={"categories": {"activation": 3}, "peak": {"simultaneous": 4},
                                     "cuda_max_allocated": 5})
    m = bl.cost_metrics(record)
    assert m["memory.cuda_max_allocated"] == 5
    assert bl.compare({**m, "memory.cuda_max_allocated": 6}, m) == []
    assert "memory.cuda_max_allocated" not in bl.cost_metrics(SimpleNamespace(**{**vars(record), "memory": {
        **record.memory, "cuda_max_allocated": None}}))


def test_every_cpu_platform_reads_one_set_of_counted_files_which_aarch64s_records_equal():
    """Costs are counted, not computed: the cases recorded on aarch64 (under emulation, torch 2.9.1) equal
    x86_64's (torch 2.14.1) metric for metric, so every CPU platform reads baselines/x86_64-cpu for them,
    and the arm64 CI job checks the whole grid there. Time readings and trained numbers stay per platform."""
    root = Path(__file__).resolve().parents[1] / "baselines"
    aarch64 = bl.load(root / "aarch64-cpu" / "costs.json")
    x86_64 = bl.load(root / "x86_64-cpu" / "costs.json")
    assert aarch64["environment"]["platform"] == "Linux-aarch64" and aarch64["cases"]
    assert {case: x86_64["cases"][case] for case in aarch64["cases"]} == aarch64["cases"]
    assert {bl.folder(p, "costs") for p in ("x86_64-cpu", "aarch64-cpu", "riscv64-cpu")} == {"x86_64-cpu"}
    assert bl.folder("aarch64-cpu", "times") == "aarch64-cpu" and bl.folder("x86_64-cuda", "costs") == "x86_64-cuda"
    assert bl.folder("jetson-orin", "costs-224px") == "jetson-orin"


def test_a_kernel_set_without_records_is_held_statistically_to_the_first_ones(tmp_path, monkeypatch):
    """On a CPU whose kernel set has no accuracy file of its own (Intel's glyphs, until recorded), the exact
    rule names the missing file; the statistical rule compares with the first records, AMD's."""
    from types import SimpleNamespace

    from repro import kernels
    from repro.show.claims_plugin import SuiteStore as BaselineStore

    monkeypatch.setattr(kernels, "records_suffix", lambda: "-intel")
    (tmp_path / "x86_64-cpu").mkdir()
    (tmp_path / "x86_64-cpu" / "accuracy-glyphs.json").write_text("{}")
    options = {"--repro-baselines-dir": str(tmp_path), "--repro-device": "cpu", "--repro-update": False,
               "--repro-reason": "", "--accuracy-rule": "exact"}
    config = SimpleNamespace(getoption=lambda name: options[name], rootpath=tmp_path)
    monkeypatch.setattr(bl, "platform_name", lambda device="cpu": "x86_64-cpu")
    assert BaselineStore(config).path("accuracy-glyphs").name == "accuracy-glyphs-intel.json"
    # the exact rule's failure names both ways out: record this kernel set's file, or the statistical rule
    assert BaselineStore(config).other_way_out("accuracy-glyphs").endswith("accuracy-glyphs.json statistically: "
                                                                          "--accuracy-rule statistical")
    assert BaselineStore(config).other_way_out("costs") == ""
    options["--accuracy-rule"] = "statistical"
    assert BaselineStore(config).path("accuracy-glyphs").name == "accuracy-glyphs.json"
    assert BaselineStore(config).path("costs").name == "costs.json"
    options["--repro-update"] = True  # recording writes the kernel set's own file
    assert BaselineStore(config).path("accuracy-glyphs").name == "accuracy-glyphs-intel.json"
