"""Baseline files: round trip, comparison, atomic writes, and the errors for broken files."""

import json

import pytest

from repro import baselines as bl

CASES = {"resnet18-fft": {"flops.exact.total": 1000, "memory.peak.simultaneous": 2048, "params.total": 10},
         "resnet18-lora-r8-shift": {"accuracy.after": 0.91}}


@pytest.fixture
def recorded(tmp_path):
    path = tmp_path / "x86_64-cpu" / "costs.json"
    bl.update(path, "costs", "x86_64-cpu", {"torch": "2.14.1"}, CASES, "first recording")
    return path


def test_round_trip(recorded):
    data = bl.load(recorded)
    assert data["cases"] == CASES and data["history"][0]["reason"] == "first recording"
    assert all(bl.compare(metrics, data["cases"][case]) == [] for case, metrics in CASES.items())


def test_changed_metric_fails_with_the_diff(recorded):
    baseline = bl.load(recorded)["cases"]["resnet18-fft"]
    moved = {**baseline, "flops.exact.total": 1100}
    assert bl.compare(moved, baseline) == [
        "flops.exact.total: 1,000 -> 1,100 (+10.00%), expected exactly 1,000"]


def test_accuracy_within_band_passes_outside_fails():
    base = {"accuracy.after": 0.91}
    assert bl.compare({"accuracy.after": 0.93}, base) == []
    assert bl.compare({"accuracy.after": 0.80}, base) == [
        "accuracy.after: 0.9100 -> 0.8000, outside the band of +-0.05"]


def test_new_and_missing_metrics_are_named():
    assert bl.compare({"params.total": 1, "params.trainable": 1}, {"params.total": 1, "flops.exact.total": 3}) == [
        "flops.exact.total: in the baseline (3) but no longer measured",
        "params.trainable: new metric (1), not in the baseline"]


def test_update_keeps_cases_it_did_not_run_and_reports_the_diff(recorded):
    diff = bl.update(recorded, "costs", "x86_64-cpu", {}, {"resnet18-fft": {**CASES["resnet18-fft"],
                                                                               "params.total": 11}}, "params moved")
    assert diff == [["resnet18-fft", "params.total", 10, 11]]
    data = bl.load(recorded)
    assert data["cases"]["resnet18-lora-r8-shift"] == CASES["resnet18-lora-r8-shift"]
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


def test_every_metric_has_a_tolerance():
    for metric in ("params.total", "flops.paper.backward", "memory.categories.temp", "accuracy.after"):
        bl.tolerance(metric)
    with pytest.raises(KeyError, match="no tolerance for metric 'seconds'"):
        bl.tolerance("seconds")
