"""Trained numbers are made with one kernel set on every x86_64 CPU (repro/kernels.py), and a process
that cannot hold it refuses to train instead of training other numbers."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from repro import kernels
from repro.learn.engines import Local
from repro.verify import baselines as bl

ROOT = Path(__file__).resolve().parents[1]
x86_64 = pytest.mark.skipif(platform.machine().lower() not in kernels.PIN_ARCHES, reason="the pin is for x86_64")


def python(code: str, **env) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter started without the pin's variables (as a user's shell starts it)."""
    clean = {k: v for k, v in os.environ.items() if k not in (*kernels.VARIABLES, kernels.ISA_ENV)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, **env}, timeout=300)


@x86_64
def test_this_test_process_trains_with_the_pinned_kernels():
    assert kernels.describe() == {"kernels": kernels.kernel_set(), "capability": "avx2", "problem": None,
                                  "env": kernels.PIN_ALL, "isa": None}
    assert kernels.kernel_set() in (kernels.PINNED, kernels.PINNED_INTEL)


@x86_64
def test_a_training_worker_carries_the_pin_into_its_environment():
    """repro/learn/runs.py's spawned workers (adaptation runs, pretraining) inherit the pin and find it holding."""
    for worker in Local(2).map(kernels.describe, [0, 1]):
        assert worker["env"] == kernels.PIN_ALL
        assert worker["problem"] is None and worker["kernels"] == kernels.kernel_set()


@x86_64
def test_importing_repro_first_pins_a_fresh_interpreter():
    done = python("import repro, torch; from repro import kernels; print(kernels.describe())")
    assert done.returncode == 0, done.stderr
    assert "'problem': None" in done.stdout and f"'kernels': '{kernels.kernel_set()}'" in done.stdout


@x86_64
def test_training_refuses_where_torch_came_first_without_the_pin():
    """No training starts: deterministic() is where every pretraining and adaptation run begins."""
    done = python("import torch\nfrom repro.determinism import deterministic\nwith deterministic(): print('trained')")
    assert done.returncode != 0 and "trained" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert "KernelError: torch was imported before repro without the AVX2 kernel pin" in last
    assert "REPRO_ISA=native" in last


@x86_64
@pytest.mark.parametrize("variable, value", [("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), ("MKL_CBWR", "COMPATIBLE")])
def test_a_conflicting_variable_is_named_and_refused(variable, value):
    done = python("import repro\nfrom repro.determinism import deterministic\nwith deterministic(): print('trained')",
                  **{variable: value})
    assert done.returncode != 0 and f"{variable}={value} is set" in done.stderr


def test_native_trains_with_this_cpus_own_kernels_and_files_of_its_own():
    done = python("import torch, repro\nfrom repro import kernels\nfrom repro.verify import baselines\n"
                  "from repro.determinism import deterministic\nwith deterministic(): pass\n"
                  "print(kernels.kernel_set(), baselines.file_name('accuracy-digits'), kernels.describe()['env'])",
                  REPRO_ISA="native")
    assert done.returncode == 0, done.stderr
    capability = done.stdout.split()[0].removeprefix("native-")
    assert done.stdout.split()[:2] == [f"native-{capability}", f"accuracy-digits-{capability}.json"]
    assert "'ONEDNN_MAX_CPU_ISA': None" in done.stdout  # nothing pinned


def test_an_unknown_kernel_set_is_one_line():
    done = python("from repro.determinism import deterministic\nwith deterministic(): pass", REPRO_ISA="avx9")
    assert done.returncode != 0 and "$REPRO_ISA='avx9' is not a kernel set" in done.stderr.strip().splitlines()[-1]


@x86_64
def test_step_times_are_read_with_the_cpus_own_kernels_in_a_worker_of_their_own():
    """Where the pin would slow this CPU (AVX-512), the readings run in a worker that dropped it; forced
    here, since this machine may have nothing above AVX2."""
    pool = kernels.native_pool()
    try:
        worker = pool.submit(kernels.describe).result()
    finally:
        pool.shutdown()
    assert worker["isa"] == "native" and worker["problem"] is None
    assert worker["env"] == dict.fromkeys(kernels.VARIABLES) and worker["kernels"].startswith("native-")


def test_mkl_is_held_to_its_avx2_path_on_intel_and_left_alone_elsewhere(monkeypatch):
    """MKL picks by vendor: Intel's records are made with MKL_CBWR=AVX2 (every Intel CPU with AVX2 computes
    alike there), AMD's with MKL's default path, which MKL_CBWR would move (repro/kernels.py)."""
    assert kernels.pin_for(kernels.INTEL)["MKL_CBWR"] == "AVX2"
    assert kernels.pin_for("AuthenticAMD")["MKL_CBWR"] is None
    assert kernels.pin_for("AuthenticAMD")["ONEDNN_MAX_CPU_ISA"] == kernels.pin_for(kernels.INTEL)["ONEDNN_MAX_CPU_ISA"]
    if kernels.wanted() != "pinned":
        return
    for cpu, kind, suffix in ((kernels.INTEL, kernels.PINNED_INTEL, "-intel"), ("AuthenticAMD", kernels.PINNED, "")):
        monkeypatch.setattr(kernels, "vendor", lambda cpu=cpu: cpu)
        assert (kernels.kernel_set(), kernels.records_suffix()) == (kind, suffix)
        assert bl.file_name("accuracy-glyphs") == f"accuracy-glyphs{suffix}.json"
        assert bl.file_name("costs") == "costs.json"  # counted: one file for every CPU


def test_a_vendors_mkl_setting_on_another_vendors_cpu_is_named(monkeypatch):
    """An AMD CPU told MKL_CBWR=AVX2 (an Intel record's setting, carried by a cluster's environment) refuses."""
    monkeypatch.setattr(kernels, "PIN_ALL", kernels.pin_for("AuthenticAMD"))
    monkeypatch.setattr(kernels, "vendor", lambda: "AuthenticAMD")
    monkeypatch.setattr(kernels, "wanted", lambda: "pinned")
    state = {"torch_first": False, "env": {**kernels.pin_for("AuthenticAMD"), "MKL_CBWR": "AVX2"}}
    problem = kernels.pin_problem(state)
    assert problem.startswith("MKL_CBWR=AVX2 is set, but trained numbers on this AuthenticAMD CPU")
    assert "MKL_CBWR unset" in problem


def test_the_pin_changes_kernels_only_on_a_cpu_with_more_than_avx2(monkeypatch):
    monkeypatch.setattr(kernels, "cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    assert kernels.pin_changes_kernels()
    monkeypatch.setattr(kernels, "cpu_flags", lambda: {"avx2", "fma", "sse4_2"})
    assert not kernels.pin_changes_kernels()


def test_step_times_go_to_the_native_worker_where_the_pin_changes_kernels(monkeypatch):
    """timed_once's routing as the suite calls it (no `native=` given), with the worker and the timing stood
    in for by recorders (the worker itself: above): elsewhere where the pin changes this CPU's kernels,
    here where it does not."""
    from concurrent.futures import Future

    from repro.case.specs import CaseSpec
    from repro.measure import timing

    sent = []

    class Recorder:
        def submit(self, fn, *args):
            sent.append(("worker", args))
            done = Future()
            done.set_result(fn(*args))
            return done

    monkeypatch.setattr(kernels, "native_pool", Recorder)
    monkeypatch.setattr(timing, "time_against_fft", lambda spec, rounds: sent.append(("here", (spec, rounds))) or 0.5)
    monkeypatch.setattr(kernels, "wanted", lambda: "pinned")
    monkeypatch.setattr(kernels, "pin_problem", lambda state=None: None)
    spec = CaseSpec("resnet18", "lora", 8)
    for changes, where in ((True, ["worker", "here"]), (False, ["here"])):
        sent.clear()
        monkeypatch.setattr(kernels, "pin_changes_kernels", lambda changes=changes: changes)
        assert timing.timed_once(3)(spec) == 0.5
        assert [w for w, _ in sent] == where and sent[-1][1] == (spec, 3)


def test_bitsandbytes_cpu_kernel_notice_is_dropped_and_its_other_warnings_are_not(caplog):
    """Printed once per training worker, in the middle of the progress bar, on CPUs with AVX-512 BF16."""
    import logging

    import repro.case.galore  # noqa: F401 (installs the filter where galore-torch is imported)

    log = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        log.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please ...", "offline")
        log.warning("a real warning")
    assert [r.getMessage() for r in caplog.records] == ["a real warning"]


@pytest.mark.slow  # pretrains the digits ResNet-18
@x86_64
@pytest.mark.parametrize("method, seed", [("head", 0), ("galore", 1)])
def test_a_stored_accuracy_run_is_made_again_to_the_last_digit(method, seed):
    """What the pin is for, on whatever x86_64 CPU runs the tests: a stored digits run (ResNet-18 on the
    shifted digits, whose base model the default tests pretrain anyway) comes out equal to its record in
    every reading, with no tolerance, from the records of this CPU's kernel set (AMD's or Intel's). Head only
    is the short one (its classifier head is MKL's sgemm); GaLore adds MKL's SVD and AdamW's torch.sqrt (MKL's
    vector maths), the parts that MKL picks by CPU vendor (repro/kernels.py)."""
    from repro.case.grid import accuracy_run
    from repro.learn.training import adapt
    from repro.measure.profile import environment
    from repro.verify import baselines as bl

    spec = accuracy_run("resnet18", method, "shift", seed)
    stored_file = bl.load(bl.path(ROOT / "baselines", "x86_64-cpu", "accuracy-digits"))  # this CPU's kernel set
    # skipped only where the libraries that compute differ (the floor job's older torch, peft or
    # galore-torch): a +cpu wheel of the same torch, or another Python, must still make the records
    recorded, running = stored_file["environment"], environment("cpu")
    libraries = ("torch", "torchvision", "peft", "galore-torch")
    other = {k: (recorded[k], running.get(k)) for k in libraries
             if k in recorded and str(recorded[k]).split("+")[0] != str(running.get(k)).split("+")[0]}
    if other:
        pytest.skip(f"the digits records were made with other libraries: {other}")
    record = stored_file["cases"][spec.key]
    [stored] = [r for r in bl.accuracy_runs(record, spec.steps) if r["seed"] == seed]
    run = adapt(spec)
    made = {"before": round(run.before, 6), "after": round(run.after, 6),
            "curve": {step: round(acc, 6) for step, acc in run.curve}}
    assert made == {k: stored[k] for k in ("before", "after", "curve")}, (
        f"{spec.key} seed {seed} made here: {made}; stored: {stored}: {kernels.not_reproduced()}")
