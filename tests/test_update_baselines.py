"""--repro-update end to end, in a pytest subprocess: writes only what ran, refuses after a failure."""

import json

import pytest
from repository import nested_pytest

pytestmark = pytest.mark.slow  # a nested pytest run per test

TWO_CASES = "tests/test_costs.py::test_update_costs_match_baseline[resnet18-fft]", \
    "tests/test_costs.py::test_update_costs_match_baseline[resnet18-bn_head]"


def run_pytest(*args, env=None):
    return nested_pytest("-m", "smoke", *args, env=env)


def test_update_writes_only_the_cases_that_ran(tmp_path):
    out = run_pytest(*TWO_CASES, "--repro-baselines-dir", str(tmp_path), "--repro-update",
                     "--repro-reason", "test recording")
    assert out.returncode == 0, out.stdout + out.stderr
    [written] = list(tmp_path.glob("*/costs.json"))
    data = json.loads(written.read_text())
    assert sorted(data["cases"]) == ["resnet18-bn_head", "resnet18-fft"]
    assert data["history"][-1]["reason"] == "test recording"
    assert "resnet18-fft" in out.stdout and "flops.exact.total" in out.stdout  # the diff is printed

    # and the comparison now passes against what was written
    assert run_pytest(*TWO_CASES, "--repro-baselines-dir", str(tmp_path)).returncode == 0


def test_update_refuses_when_another_test_failed(tmp_path):
    failing = tmp_path / "test_broken.py"
    failing.write_text("def test_broken():\n    assert False\n")
    out = run_pytest(TWO_CASES[0], str(failing), "--repro-baselines-dir", str(tmp_path / "b"), "--repro-update",
                     "--repro-reason", "should not be written", "-m", "smoke or not smoke")
    assert out.returncode == 1
    assert "refusing to update baselines: 1 test(s) failed" in out.stdout
    assert not (tmp_path / "b").exists()


def test_update_without_reason_is_a_usage_error(tmp_path):
    out = run_pytest(TWO_CASES[0], "--repro-baselines-dir", str(tmp_path), "--repro-update")
    assert out.returncode == 4 and "--repro-update needs --repro-reason" in out.stderr


def test_a_platform_key_that_is_a_path_writes_nothing(tmp_path):
    out = nested_pytest(TWO_CASES[0], "--repro-baselines-dir", str(tmp_path / "b"), "--repro-update",
                        "--repro-reason", "x", env={"REPRO_PLATFORM": "../escaped"})
    assert out.returncode == 4 and "is not a plain name" in out.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "b").exists()


def test_a_moved_metric_says_the_environment_first_and_how_to_re_record_that_case(tmp_path):
    assert run_pytest(TWO_CASES[0], "--repro-baselines-dir", str(tmp_path), "--repro-update",
                      "--repro-reason", "r").returncode == 0
    [path] = tmp_path.glob("*/costs.json")
    data = json.loads(path.read_text())
    data["environment"]["peft"] = "0.1.0"
    data["cases"]["resnet18-fft"]["flops.exact.total"] += 1
    path.write_text(json.dumps(data))
    out = run_pytest(TWO_CASES[0], "--repro-baselines-dir", str(tmp_path))
    assert out.returncode == 1
    text = out.stdout
    assert "was recorded with peft 0.1.0, running" in text
    assert text.index("recorded with peft 0.1.0") < text.index("flops.exact.total")
    assert '-k "[resnet18-fft]" --repro-update' in text


class Item:
    """A collected test as the claims plugin reads it: its fixtures and its markers."""

    def __init__(self, *fixturenames, **marks):
        self.fixturenames = fixturenames
        self.marks = {name: getattr(pytest.mark, name)(*args).mark for name, args in marks.items()}

    def get_closest_marker(self, name):
        return self.marks.get(name)


def test_selecting_accuracy_cases_runs_only_those_unless_a_claim_reads_them():
    from repro.show.claims_plugin import selected_accuracy_cases
    from repro.verify.evidence import run_key

    case = Item("evidence", "baselines", accuracy_case=("resnet18-fft-shift",))
    claim = Item("evidence", claim=("H-exact",))
    named_like_one = Item("evidence")  # its name does not make a test an accuracy case, its marker does
    named_like_one.originalname = "test_accuracy_matches_baseline"
    other = Item("tmp_path")
    assert selected_accuracy_cases([case, other]) == {"resnet18-fft-shift"}
    assert selected_accuracy_cases([case, claim]) is None  # a claim reads every case
    assert selected_accuracy_cases([case, named_like_one]) is None  # an unmarked reader may read any case
    assert selected_accuracy_cases([other]) is None
    # under a sample, the claims selected bring the cases their verdicts rest on
    deciding = {"H-exact": (("resnet18", "lora", "shift"),)}
    lora = run_key("resnet18", "lora", "shift")
    assert selected_accuracy_cases([case, claim], deciding) == {"resnet18-fft-shift", lora}


def test_the_analytic_cases_profiled_side_by_side_are_the_selected_ones_on_the_run_device():
    import dataclasses

    from repro.case.grid import cost_cases, paper_scale_cases
    from repro.show.claims_plugin import selected_analytic_specs

    fake, real = paper_scale_cases()[0], cost_cases()[0]

    def case(spec, fixtures=("measure", "baselines")):
        return Item(*fixtures, profiles=(spec,))

    items = [case(fake), case(fake), case(real), case(paper_scale_cases()[1], ("timings",)), Item()]
    assert selected_analytic_specs(items, "cuda") == [dataclasses.replace(fake, device="cuda")]


def test_analytic_cases_profiled_side_by_side_show_their_progress_and_match_their_baselines():
    """The claims run profiles its 224 x 224 cases in worker processes inside the first such test:
    their progress bar must get past pytest's capture, and their records must still be the stored ones."""
    from repro.show.claims_plugin import SIDE_BY_SIDE_FROM

    nine = "paper_scale and (mobilenet_v3_small-fft or mobilenet_v3_small-head or mobilenet_v3_small-bn_head)"
    assert SIDE_BY_SIDE_FROM <= 9
    # batches 1 and 32 at 224 x 224 are measured under --remeasure all only (repro/case/grid.py full_only)
    out = run_pytest("-m", "paper_claims", "--remeasure", "all", "tests/test_costs.py", "-k", nine,
                     env={"REPRO_WORKERS": "2"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "9 passed" in out.stdout
    assert "analytic cost cases (2 workers)" in out.stderr and "9/9" in out.stderr


def test_a_missing_baseline_file_is_one_message_once(tmp_path):
    """Not printed twice, chained by 'During handling of the above exception' (a new user on a CPU the
    records did not cover met it so, for every accuracy case)."""
    out = run_pytest(TWO_CASES[0], "--repro-baselines-dir", str(tmp_path))
    assert out.returncode == 1
    failure = out.stdout.split("short test summary info")[0]  # the summary line's length follows the terminal
    assert failure.count("no baseline file") == 1
    assert "During handling of the above exception" not in out.stdout
