"""A project outside this repository uses the pytest plugin as a user's CI would: its own CNN, its own
test asserting the LoRA update's costs against a baseline file in its own tree, then the metric moves
(a wider network), the test fails saying which metric and how to re-record, and an update with a
reason makes it pass again, the reason kept in the file's history."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

TINYNET = '''
import os

from torch import nn


def tinynet(num_classes):
    width = int(os.environ.get("TINYNET_WIDTH", "16"))  # the change the project makes between runs
    return nn.Sequential(
        nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, 2, 1, groups=width, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))
'''

TEST = '''
from repro.case.specs import CaseSpec
from repro.verify.baselines import cost_metrics

SPEC = CaseSpec("tinynet:tinynet", "lora", 4)


def test_lora_update_costs(measure, baselines):
    record = measure(SPEC)
    assert record.flops["exact"]["total"] < 50e6  # what a user asserts: "my LoRA r4 update stays under 50 MFLOP"
    baselines.check("my-costs", "tinynet-lora-r4", cost_metrics(record))
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "tinynet.py").write_text(TINYNET)
    (tmp_path / "test_costs.py").write_text(TEST)
    # a project of its own: its own rootdir and configuration, nothing from this repository's pyproject
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return tmp_path


def pytest_in(folder, *args, width=16):
    env = {**os.environ, "TINYNET_WIDTH": str(width), "OMP_NUM_THREADS": "1", "REPRO_PLATFORM": "mine"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


def test_an_outside_project_records_passes_fails_on_a_moved_metric_and_updates_with_a_reason(project):
    baseline = project / "baselines" / "mine" / "my-costs.json"

    first = pytest_in(project)  # nothing recorded yet: the failure says how to record it
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"no baseline file {baseline} (case tinynet-lora-r4)" in first.stdout, first.stdout
    assert "'test_costs.py::test_lora_update_costs' --update-baselines" in first.stdout

    recorded = pytest_in(project, "--update-baselines", "--baseline-reason", "first record of tinynet")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert f"baseline {baseline}: 1 cases written" in recorded.stdout
    stored = json.loads(baseline.read_text())
    flops = stored["cases"]["tinynet-lora-r4"]["flops.exact.total"]
    assert stored["history"][-1]["reason"] == "first record of tinynet"

    assert pytest_in(project).returncode == 0  # the same project, measured again: passes

    moved = pytest_in(project, width=24)  # wider convolutions: more FLOPs than recorded
    assert moved.returncode == 1, moved.stdout + moved.stderr
    assert "tinynet-lora-r4 differs from" in moved.stdout and "flops.exact.total" in moved.stdout
    assert "--baseline-reason" in moved.stdout  # and how to re-record it
    assert json.loads(baseline.read_text()) == stored  # a failing run never writes

    updated = pytest_in(project, "--update-baselines", "--baseline-reason", "tinynet widened to 24", width=24)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    stored = json.loads(baseline.read_text())
    assert stored["cases"]["tinynet-lora-r4"]["flops.exact.total"] > flops
    assert [h["reason"] for h in stored["history"]] == ["first record of tinynet", "tinynet widened to 24"]
    assert pytest_in(project, width=24).returncode == 0


def test_the_plugin_comes_from_the_entry_point_and_turns_off(project):
    """pytest finds the plugin by its pytest11 entry point; -p no:repro leaves a project without it."""
    off = pytest_in(project, "-p", "no:repro")
    assert off.returncode == 1 and "fixture 'measure' not found" in off.stdout, off.stdout + off.stderr
