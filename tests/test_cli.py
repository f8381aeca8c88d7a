"""The command line: the table and the JSON record for every model x method."""

import json
import subprocess
import sys

import pytest
from probes import without_torch

from repro.__main__ import main
from repro.case.grid import UNIT_PAIRS
from repro.case.methods import METHODS, PAPER_METHODS, RANKED
from repro.case.models import MODELS, PAPER_MODELS

KEYS = ["params.trainable", "params.total"]
KEYS += [f"flops.{c}.{p}" for c in ("exact", "paper") for p in ("forward", "backward", "optimizer", "total")]
KEYS += [f"memory.categories.{c}" for c in
         ("parameter", "buffer", "gradient", "activation", "temp", "optimizer_state", "other")]
KEYS += ["memory.peak.category_max_sum", "memory.peak.simultaneous"]


def lookup(record, dotted):
    for key in dotted.split("."):
        record = record[key]
    return record


# the paper's models x methods, and one other model and method; the rest build in tests/test_methods.py
@pytest.mark.parametrize("model, method", [p for p in UNIT_PAIRS if p[0] in PAPER_MODELS and p[1] in PAPER_METHODS]
                         + [("mnasnet0_5", "lora"), ("mobilenet_v2", "ia3")])
def test_profile_json_has_every_documented_key(capsys, model, method):
    rank = ["--rank", "8"] if method in RANKED else []
    assert main(["profile", "--model", model, "--method", method, *rank, "--batch", "2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert isinstance(lookup(record, key), int) and lookup(record, key) >= 0, key
    assert record["flops"]["exact"]["total"] == sum(
        record["flops"]["exact"][p] for p in ("forward", "backward", "optimizer"))


@pytest.mark.slow
def test_profile_prints_a_table():
    out = subprocess.run([sys.executable, "-m", "repro", "profile", "--model", "mobilenet_v2",
                          "--method", "lora", "--rank", "8", "--batch", "2"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("mobilenet_v2-lora-r8-b2-32px")
    for word in ("trainable", "MFLOP", "exact", "paper", "optimizer_state", "peak", "unprofiled step"):
        assert word in out


def test_list_names_models_and_methods(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in [*MODELS, *METHODS])


def test_bad_input_exits_2_with_the_message(capsys):
    assert main(["profile", "--model", "resnet18", "--method", "lora"]) == 2
    assert "error: method 'lora' needs a rank" in capsys.readouterr().err


@pytest.mark.slow
def test_analytic_profile_runs_the_paper_scale_on_fake_tensors():
    out = subprocess.run([sys.executable, "-m", "repro", "profile", "--model", "mobilenet_v2", "--method", "lora",
                          "--rank", "8", "--batch", "32", "--size", "224", "--analytic"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("mobilenet_v2-lora-r8-b32-224px")
    assert "analytic: fake tensors, nothing timed" in out
    # 2.4 GB of activations at batch 32, 224 x 224: never allocated on this machine
    activation = next(line for line in out.splitlines() if line.startswith("activation"))
    assert float(activation.split()[1].replace(",", "")) > 2000


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_one_line(capsys):
    assert main(["profile", "--model", "resnet18", "--method", "fft", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --device cuda: no CUDA device is available") and err.count("\n") == 1


def test_unknown_device_is_one_line(capsys):
    assert main(["profile", "--model", "resnet18", "--method", "fft", "--device", "gpu"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown device 'gpu'")


def one_line_error(done) -> str:
    """The last stderr line of a refused command, which must say what is wrong (argparse prints its usage
    above it)."""
    assert done.returncode != 0, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and lines, done.stderr
    return lines[-1]


def cli(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "repro", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, said", [
    (["adapt", "--model", "resnet18", "--method", "fft", "--steps", "0"], "--steps: must be at least 1, got 0"),
    (["adapt", "--model", "resnet18", "--method", "fft", "--batch", "-2"], "--batch: must be at least 1, got -2"),
    (["calibrate", "--seeds", "0"], "--seeds: must be at least 1, got 0"),
    (["calibrate", "--workers", "x"], "--workers: expected a positive integer, got 'x'"),
], ids=["adapt-steps-0", "adapt-batch-negative", "calibrate-seeds-0", "calibrate-workers-not-a-number"])
@pytest.mark.slow
def test_counts_below_one_are_refused_before_anything_trains(args, said):
    assert said in one_line_error(cli(*args))


@pytest.mark.slow
def test_a_cache_dir_that_is_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    line = one_line_error(cli("pretrain", "--model", "resnet18", env={"REPRO_CACHE_DIR": str(blocker)}))
    assert f"{blocker} is a file, not a folder" in line and "REPRO_CACHE_DIR" in line


@pytest.mark.slow
def test_report_from_a_named_broken_file_fails(tmp_path):
    broken = tmp_path / "results.json"
    broken.write_text("{")
    line = one_line_error(cli("report", "--from", str(broken), "--out", str(tmp_path / "out")))
    assert f"{broken} could not be read" in line
    assert not (tmp_path / "out" / "index.md").exists()  # no report from the baselines in its place


def test_sweep_titles_its_break_even_table(capsys, tmp_path):
    assert main(["sweep", "--model", "mobilenet_v3_small", "--methods", "lora", "--ranks", "1,64", "--batch", "2",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    title = out.index("break-even ranks: the smallest rank at which each method's mobilenet_v3_small update")
    assert title < out.index("FLOPs (paper rules)", title)  # the title stands above the second table


def test_a_report_out_that_is_a_file_is_one_line_before_anything_is_drawn(tmp_path):
    blocker = tmp_path / "report.html"
    blocker.write_text("a file")
    line = one_line_error(cli("report", "--out", str(blocker / "sub")))
    assert f"--out {blocker / 'sub'}: {blocker} is a file; name a folder" in line


def test_impossible_slurm_options_and_an_unwritable_runs_folder_are_one_line():
    from repro.learn import engines
    from repro.learn.runstore import RunStore

    with pytest.raises(ValueError, match="--slurm-runs-per-job 0: must be at least 1"):
        engines.SlurmOptions(runs_per_job=0)
    with pytest.raises(ValueError, match="--slurm-time-min -5: must be at least 1"):
        engines.SlurmOptions(time_min=-5)
    # /proc takes no folders, root or not: refused when the store is made, not when the first run is kept
    with pytest.raises(ValueError, match=r"cannot write the runs folder /proc/repro-runs \(.*\): point --runs-dir"):
        RunStore("/proc/repro-runs")


@pytest.mark.parametrize("args", [["--help"], ["report", "--help"], ["verdicts", "--help"], ["pretrain", "--help"],
                                  ["profile", "--help"], ["list"]])
def test_what_needs_no_model_starts_without_torch_or_peft(args):
    """Every command is listed, and only the one given has its arguments built: help and the commands that read
    records start in a fraction of a second instead of importing torch and peft (benchmarks/test_cli_start.py)."""
    done = without_torch(*args)
    assert done.stdout.strip().splitlines()[-1] == "imported:", done.stdout + done.stderr
    if args == ["--help"]:
        from repro.show.cli import COMMANDS

        assert all(name in done.stdout for name in COMMANDS)

