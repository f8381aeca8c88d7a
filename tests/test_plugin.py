"""Projects outside this repository with peft-edge-repro installed, as a user's CI has them.

One uses the public plugin: its own CNN, its own test asserting the LoRA update's costs against a
baseline file in its own tree, then the metric moves (a wider network), the test fails saying which
metric and how to re-record, and an update with a reason makes it pass again, the reason kept in the
file's history. Another does not use it, and has its own --device option and its own `baselines` and
`measure` fixtures: the plugin must change nothing there. A third uses it beside pytest-benchmark and
pytest-regressions. And this repository's old option names still work, each saying its new one.
"""

import json
import os
import re
import subprocess
import sys

import pytest

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


def test_lora_update_costs(repro_measure, repro_baselines):
    record = repro_measure(SPEC)
    assert record.flops["exact"]["total"] < 50e6  # what a user asserts: "my LoRA r4 update stays under 50 MFLOP"
    repro_baselines.check("my-costs", "tinynet-lora-r4", cost_metrics(record))
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "tinynet.py").write_text(TINYNET)
    (tmp_path / "test_costs.py").write_text(TEST)
    # a project of its own: its own rootdir and configuration, nothing from this repository's pyproject
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return tmp_path


def pytest_in(folder, *args, width=16, env=None):
    env = {**os.environ, "TINYNET_WIDTH": str(width), "OMP_NUM_THREADS": "1", "REPRO_PLATFORM": "mine", **(env or {})}
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
    assert "'test_costs.py::test_lora_update_costs' --repro-update" in first.stdout

    recorded = pytest_in(project, "--repro-update", "--repro-reason", "first record of tinynet")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert f"baseline {baseline}: 1 cases written" in recorded.stdout
    stored = json.loads(baseline.read_text())
    flops = stored["cases"]["tinynet-lora-r4"]["flops.exact.total"]
    assert stored["history"][-1]["reason"] == "first record of tinynet"

    assert pytest_in(project).returncode == 0  # the same project, measured again: passes

    moved = pytest_in(project, width=24)  # wider convolutions: more FLOPs than recorded
    assert moved.returncode == 1, moved.stdout + moved.stderr
    assert "tinynet-lora-r4 differs from" in moved.stdout and "flops.exact.total" in moved.stdout
    assert "--repro-reason" in moved.stdout  # and how to re-record it
    assert json.loads(baseline.read_text()) == stored  # a failing run never writes

    updated = pytest_in(project, "--repro-update", "--repro-reason", "tinynet widened to 24", width=24)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    stored = json.loads(baseline.read_text())
    assert stored["cases"]["tinynet-lora-r4"]["flops.exact.total"] > flops
    assert [h["reason"] for h in stored["history"]] == ["first record of tinynet", "tinynet widened to 24"]
    assert pytest_in(project, width=24).returncode == 0  # the re-recorded file holds the wider network


def test_the_plugin_comes_from_the_entry_point_and_turns_off(project):
    """pytest finds the plugin by its pytest11 entry point; -p no:repro leaves a project without it."""
    off = pytest_in(project, "-p", "no:repro")
    assert off.returncode == 1 and "fixture 'repro_measure' not found" in off.stdout, off.stdout + off.stderr


# A project that knows nothing of peft-edge-repro, with names that many ML test suites have
BYSTANDER_CONFTEST = '''
import json
import os
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", help="the project's own device option")
    parser.addoption("--report", action="store_true", help="the project's own report option")


@pytest.fixture
def baselines():
    return {"accuracy": 0.9}


@pytest.fixture
def measure():
    return lambda x: 2 * x


def pytest_unconfigure(config):
    with open(os.environ["BYSTANDER_OUT"] + os.environ.get("PYTEST_XDIST_WORKER", ""), "w") as f:  # each process
        json.dump({"torch": "torch" in sys.modules, "device": config.getoption("--device")}, f)
'''

BYSTANDER_TEST = '''
def test_its_own_fixtures_and_options(baselines, measure, pytestconfig):
    assert baselines == {"accuracy": 0.9} and measure(3) == 6
    assert pytestconfig.getoption("--device") == "cuda:1" and pytestconfig.getoption("--report")
'''


@pytest.fixture
def bystander(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "conftest.py").write_text(BYSTANDER_CONFTEST)
    (folder / "test_own.py").write_text(BYSTANDER_TEST)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return folder


def bystander_run(folder, *args):
    """The run, and what each of its processes saw at its end."""
    out = folder.parent / "out"
    run = pytest_in(folder, "--device", "cuda:1", "--report", *args, env={"BYSTANDER_OUT": str(out)})
    seen = [json.loads(p.read_text()) for p in sorted(folder.parent.glob("out*"))]
    for p in folder.parent.glob("out*"):
        p.unlink()
    return run, seen


@pytest.mark.parametrize("processes", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_project_with_its_own_device_option_and_fixtures_runs_as_if_the_plugin_were_not_installed(bystander,
                                                                                                    processes):
    without, _ = bystander_run(bystander, *processes, "-p", "no:repro")
    assert without.returncode == 0, without.stdout + without.stderr
    files = sorted(p.relative_to(bystander) for p in bystander.rglob("*"))  # other plugins' files, pytest's own
    run, seen = bystander_run(bystander, *processes)
    assert run.returncode == 0, run.stdout + run.stderr
    # the same lines (less the time the run took), no torch imported, no file of ours written
    assert strip_time(run.stdout) == strip_time(without.stdout) and run.stderr == without.stderr
    assert seen == [{"torch": False, "device": "cuda:1"}] * (3 if processes else 1)
    assert sorted(p.relative_to(bystander) for p in bystander.rglob("*")) == files


def test_pytest_help_in_a_project_that_does_not_use_the_plugin_lists_only_namespaced_options(bystander):
    """Every option the plugin adds to a project that has it installed is --repro-*."""
    ours = option_lines(pytest_in(bystander, "--help").stdout) - option_lines(
        pytest_in(bystander, "--help", "-p", "no:repro").stdout)
    assert ours == {"--repro-update", "--repro-reason", "--repro-baselines-dir", "--repro-device"}


THREE_PLUGINS_TEST = '''
from repro.case.specs import CaseSpec
from repro.verify.baselines import cost_metrics


def test_costs_speed_and_data_in_one_run(repro_measure, repro_baselines, benchmark, data_regression):
    record = repro_measure(CaseSpec("tinynet:tinynet", "lora", 4))
    repro_baselines.check("my-costs", "tinynet-lora-r4", cost_metrics(record))
    assert benchmark(sum, range(100)) == 4950
    data_regression.check({"trainable": record.params["trainable"]})
'''


def test_the_plugin_lives_beside_pytest_benchmark_and_pytest_regressions_in_one_run(project):
    (project / "test_costs.py").write_text(THREE_PLUGINS_TEST)
    first = pytest_in(project, "--repro-update", "--repro-reason", "first record")
    # pytest-regressions fails a check whose file it had to write; so ours writes nothing
    assert first.returncode == 1 and "File not found in data directory, created" in first.stdout, first.stdout
    assert "refusing to update baselines: 1 test(s) failed" in first.stdout
    assert (project / "test_costs" / "test_costs_speed_and_data_in_one_run.yml").exists()
    both = pytest_in(project, "--repro-update", "--repro-reason", "first record", "--benchmark-columns", "min,max")
    assert both.returncode == 0, both.stdout + both.stderr
    assert "benchmark: 1 tests" in both.stdout  # pytest-benchmark's table
    assert "baselines/mine/my-costs.json: 1 cases written" in both.stdout  # ours, in the same run


def test_under_xdist_a_failure_on_one_worker_stops_every_worker_from_writing(tmp_path):
    """--repro-update writes only when every test passed: a worker that saw only passing tests must not write
    its part while another worker's test failed (it did, until 2026-12-07)."""
    (tmp_path / "test_a.py").write_text("def test_records(repro_baselines):\n"
                                       "    repro_baselines.check('mine', 'a', {'x': 1})\n")
    (tmp_path / "test_b.py").write_text("def test_fails():\n    assert False\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    run = pytest_in(tmp_path, "-n", "2", "--dist", "loadfile", "--repro-update", "--repro-reason", "r")
    assert run.returncode == 1 and "refusing to update baselines: 1 test(s) failed" in run.stdout, run.stdout
    assert not (tmp_path / "baselines").exists()


def test_the_old_option_names_still_work_in_this_repository_and_name_their_new_ones(tmp_path):
    """0.1.0's spellings, kept for one release in the repository's own plugin (repro/show/claims_plugin.py)."""
    from repro.show.claims_plugin import RENAMED

    (tmp_path / "test_opts.py").write_text(
        "def test_opts(pytestconfig):\n"
        "    g = pytestconfig.getoption\n"
        "    assert (g('--repro-device'), g('--embedded-data'), g('--write-report')) == ('cpu', 'digits', True)\n"
        "    assert (g('--repro-update'), g('--repro-reason'), g('--repro-baselines-dir')) == (True, 'why', 'b')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider -p repro.show.claims_plugin\n")
    old = pytest_in(tmp_path, "--device", "cpu", "--benchmark", "digits", "--report", "--update-baselines",
                    "--baseline-reason", "why", "--baselines-dir=b", env={"REPRO_REPORTS_DIR": str(tmp_path / "r")})
    assert old.returncode == 0, old.stdout + old.stderr
    for name, new in RENAMED.items():
        assert f"{name} is deprecated and goes in the next release: use {new}" in old.stdout, old.stdout


def strip_time(text: str) -> str:
    return re.sub(r" in [0-9.]+s", "", text)


def option_lines(help_text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\s+(--[a-z][a-z0-9-]*)", help_text, re.M)}
