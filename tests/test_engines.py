"""The engines runs go to (repro/learn/engines.py) and the finished runs kept between invocations
(repro/learn/runstore.py). Tests marked `cluster` need the extra (pip install -e '.[cluster]') and run in CI's
cluster job and `tox -e cluster`: Ray on a local 2-CPU instance, submitit's local executor."""

import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

import pytest
import torch
from claim_case import equals_its_records, made_on

from repro.learn import engines
from repro.learn.runs import run_all
from repro.learn.runstore import RunStore
from repro.learn.training import AdaptSpec, adapt
from repro.learn.zoo import Recipe, base_model

QUICK = Recipe(epochs=1, batch=128)
SPEC = AdaptSpec("mobilenet_v2", "lora", 4, "unseen", steps=6, batch=16, recipe=QUICK, checkpoints=(3,))
SPECS = [SPEC, dataclasses.replace(SPEC, method="fft", rank=None, seed=1), dataclasses.replace(SPEC, seed=2)]


def numbers(r):
    return r.spec, r.before, r.after, r.loss_before, r.loss_after, r.curve


def twice(x):
    return 2 * x


def dies_at(x, marker=None):
    """A job whose worker process is killed (SIGKILL, as the kernel's OOM killer does) when it gets 3:
    every time, or, given a marker file, only the first time."""
    if x == 3 and (marker is None or not os.path.exists(marker)):
        if marker is not None:
            open(marker, "w").close()
        time.sleep(0.5)  # the others are under way
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * x


def test_an_unknown_executor_names_the_choices():
    with pytest.raises(engines.EngineError, match="unknown executor 'spark'.*local, ray.*slurm"):
        engines.make("spark")


def test_an_executor_named_in_the_environment_is_used(monkeypatch):
    monkeypatch.setenv(engines.EXECUTOR_ENV, "nope")
    with pytest.raises(engines.EngineError, match="'nope'"):
        engines.make()
    monkeypatch.delenv(engines.EXECUTOR_ENV)
    assert isinstance(engines.make(), engines.Local)


@pytest.mark.parametrize("executor, module", [("ray", "ray"), ("ray:auto", "ray"), ("slurm", "submitit")])
def test_an_engine_without_its_extra_is_one_line_saying_what_to_install(monkeypatch, executor, module):
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as where it is not installed
    with pytest.raises(engines.EngineError) as err:
        engines.make(executor)
    assert "\n" not in str(err.value) and "pip install -e '.[cluster]'" in str(err.value) and module in str(err.value)


@pytest.mark.slow
def test_pytest_refuses_an_unknown_executor_before_anything_runs(pytester_subprocess):
    done = pytester_subprocess("--executor", "spark", "--co")
    assert done.returncode == 4 and "unknown executor 'spark'" in done.stderr


@pytest.fixture
def pytester_subprocess():
    import subprocess

    def run(*args):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
                               "tests/test_engines.py::test_an_unknown_executor_names_the_choices"],
                              capture_output=True, text=True, timeout=300)
    return run


def test_a_worker_with_another_thread_count_refuses_in_words(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    with pytest.raises(engines.WorkerSetupError, match=r"threads 4 \(the runs need 1\)"):
        engines.check_worker(engines.expected_settings())
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with pytest.raises(engines.WorkerSetupError, match=r"kernels .* \(the runs need native-avx512\)"):
        engines.check_worker({**engines.expected_settings(), "kernels": "native-avx512"})
    engines.check_worker(engines.expected_settings())


@pytest.mark.slow
def test_a_killed_local_worker_keeps_the_finished_jobs_and_names_the_lost():
    got = {}
    with pytest.raises(engines.JobsFailed) as err:
        engines.Local(2).map(dies_at, [1, 2, 3, 4], on_result=got.__setitem__)
    assert "3: a worker process died" in str(err.value)
    assert got and all(got[x] == 2 * x for x in got) and 3 not in got
    assert set(err.value.failures) == {1, 2, 3, 4} - set(got)


def refuses_three(x):
    if x == 3:
        raise ValueError("three is not a rank this method takes")
    return 2 * x


@pytest.mark.slow
def test_one_local_job_that_raises_raises_its_own_error():
    """An ordinary error (an impossible rank, a refused pin) reaches the caller as the job raised it."""
    with pytest.raises(ValueError, match="three is not a rank"):
        engines.Local(2).map(refuses_three, [1, 3])


@pytest.mark.slow
def test_a_run_killed_mid_way_loses_no_finished_run_and_the_next_invocation_makes_only_the_rest(
        monkeypatch, tmp_path):
    """The local pool, three real runs, one worker killed from outside once the first run is kept; then
    the same call again. Every number equals the run's made alone."""
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    store = RunStore(tmp_path / "runs")
    base_model(SPEC.model, SPEC.data, SPEC.recipe, progress=False)  # pretrained before: the kill hits a run

    def kill_one_worker():
        while not len(store):
            time.sleep(0.05)
        for child in multiprocessing.active_children():  # the pool's workers
            os.kill(child.pid, signal.SIGKILL)
            return

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    with pytest.raises(engines.JobsFailed, match="the same command again makes only the"):
        run_all(SPECS, workers=2, progress=False, store=store)
    killer.join()
    kept = len(store)
    assert 1 <= kept < len(SPECS)
    made = []
    monkeypatch.setattr(store, "put", lambda spec, result, put=store.put: made.append(spec) or put(spec, result))
    again = run_all(SPECS, workers=2, progress=False, store=store)
    assert len(made) == len(SPECS) - kept and len(store) == len(SPECS)
    assert [numbers(r) for r in again] == [numbers(adapt(s)) for s in SPECS]


def test_a_kept_run_is_found_only_by_its_own_spec(monkeypatch, tmp_path):
    from repro.learn.training import AdaptResult

    store = RunStore(tmp_path)
    result = AdaptResult(SPEC, 0.1, 0.5, 3.2, "digits", 2.3, 1.1, ((3, 0.25), (6, 0.5)))
    store.put(SPEC, result)
    assert store.get(SPEC) == result
    assert store.get(dataclasses.replace(SPEC, seed=1)) is None
    assert store.get(dataclasses.replace(SPEC, steps=7)) is None
    store.path(SPEC).write_text("{")  # a foreign or damaged file is made again, never read
    assert store.get(SPEC) is None
    with pytest.raises(ValueError, match="is a file"):
        RunStore(store.path(SPEC))


def test_a_kept_run_is_not_read_by_other_code(monkeypatch, tmp_path):
    """A changed line of repro, or another peft, keys every run anew: old numbers never mix in."""
    from repro.learn import runstore

    before = runstore.run_id(SPEC)
    runstore._code.cache_clear()
    monkeypatch.setattr(runstore.importlib.metadata, "version", lambda dist: "0.0-other")
    try:
        assert runstore.run_id(SPEC) != before
    finally:
        runstore._code.cache_clear()


# --- the engines themselves: the [cluster] extra -------------------------------------------------------

cluster = pytest.mark.cluster


@pytest.fixture(scope="module")
def ray_engine(tmp_path_factory):
    """A local Ray instance of 2 CPUs whose workers have a base-model cache of their own (they inherit the
    environment the instance starts in), as on a cluster without a shared disk."""
    # no importorskip: only -m cluster selects these, and there a missing extra must fail, not turn green
    engine = engines.make("ray", workers=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPRO_CACHE_DIR", str(tmp_path_factory.mktemp("ray-workers-cache")))
        mp.setenv("PYTHONPATH", os.path.dirname(__file__), prepend=os.pathsep)  # this module's toy jobs
        engine.map(twice, [0])  # starts the instance in this environment
    yield engine
    engine.close()


@cluster
@pytest.mark.slow
def test_ray_pretrains_once_ships_the_base_model_and_makes_the_local_pools_records(
        ray_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "driver"))
    local = [numbers(r) for r in run_all(SPECS[:2], workers=2, progress=False)]
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "empty"))  # a miss here and on the workers
    assert [numbers(r) for r in run_all(SPECS[:2], progress=False, engine=ray_engine)] == local
    from repro.learn.zoo import base_model_path

    assert base_model_path(SPEC.model, SPEC.data, SPEC.recipe).exists()  # pretrained on a worker, sent back
    here, _ = base_model(SPEC.model, SPEC.data, SPEC.recipe, progress=False, cache=tmp_path / "driver")
    sent, _ = base_model(SPEC.model, SPEC.data, SPEC.recipe, progress=False)
    assert all(torch.equal(here[k], sent[k]) for k in here)


@cluster
def test_ray_gives_a_killed_workers_job_back_once(ray_engine, tmp_path):
    marker = str(tmp_path / "killed")
    got = ray_engine.map(_dies_once, [(x, marker) for x in [1, 2, 3, 4]])
    assert got == [2, 4, 6, 8] and os.path.exists(marker)


def _dies_once(item):
    return dies_at(*item)


@cluster
def test_a_ray_worker_with_other_kernels_than_the_runs_need_refuses(ray_engine, monkeypatch):
    monkeypatch.setattr(engines, "expected_settings", lambda: {"kernels": "native-avx512", "threads": "1"})
    with pytest.raises(engines.JobsFailed, match=r"WorkerSetupError: .*\(the runs need native-avx512\)"):
        ray_engine.map(twice, [1])


@pytest.fixture
def submitit_engine(tmp_path, monkeypatch):
    """submitit's local executor, 2 jobs at a time, one item a job (runs_per_job=1)."""
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__), prepend=os.pathsep)  # this module's toy jobs
    return engines.make("slurm:local", workers=2,
                        slurm=engines.SlurmOptions(folder=str(tmp_path / "submitit"), runs_per_job=1))


@cluster
@pytest.mark.slow
def test_submitit_makes_the_local_pools_records(submitit_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    local = [numbers(r) for r in run_all(SPECS[:2], workers=2, progress=False)]
    assert [numbers(r) for r in run_all(SPECS[:2], progress=False, engine=submitit_engine)] == local


@cluster
@pytest.mark.parametrize("executor", ["ray", "slurm:local"])
def test_a_stored_claim_case_made_on_the_engine_equals_its_records(executor, tmp_path):
    """A local Ray instance of its own and submitit's local executor, from an empty base-model cache."""
    done = made_on(executor, tmp_path / "cache")
    assert equals_its_records(done), done.stdout[-3000:] + done.stderr[-3000:]


@cluster
@pytest.mark.parametrize("engine, name", [("ray_engine", "ray"), ("submitit_engine", "submitit")])
def test_a_job_killed_for_good_fails_alone_and_the_others_are_kept(request, engine, name):
    """On Ray the job dies twice (Ray gives it back once); on submitit once."""
    got = {}
    with pytest.raises(engines.JobsFailed, match=f"1 of 4 failed on {name}") as err:
        request.getfixturevalue(engine).map(dies_at, [1, 2, 3, 4], on_result=got.__setitem__)
    assert got == {1: 2, 2: 4, 4: 8} and "3:" in str(err.value)


@cluster
def test_several_runs_in_one_submitit_job_fail_one_by_one(tmp_path, monkeypatch):
    """Jobs of several runs (the default on Slurm: a job's start is paid once for them): one run's error
    fails that run alone; a job that dies fails the runs it held, and no other."""
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__), prepend=os.pathsep)
    engine = engines.make("slurm:local", workers=2,
                          slurm=engines.SlurmOptions(folder=str(tmp_path / "submitit"), runs_per_job=2))
    with pytest.raises(engines.JobsFailed, match="1 of 4 failed") as err:
        engine.map(refuses_three, [1, 2, 3, 4])
    assert "three is not a rank" in str(err.value)
    got = {}
    with pytest.raises(engines.JobsFailed, match="2 of 4 failed") as err:
        engine.map(dies_at, [1, 2, 3, 4], on_result=got.__setitem__)  # 3 and 4 share a job
    assert got == {1: 2, 2: 4} and set(err.value.failures) == {3, 4}


@cluster
def test_a_submitit_worker_whose_environment_lost_the_thread_count_refuses(submitit_engine, monkeypatch):
    monkeypatch.setattr(engines, "worker_env", lambda cache=None: {"OMP_NUM_THREADS": "8"})
    with pytest.raises(engines.JobsFailed, match=r"WorkerSetupError: .*threads 8 \(the runs need 1\)"):
        submitit_engine.map(twice, [1])


# --- a real Slurm controller: a one-node cluster on this machine (.ci/slurm-local) ---------------------------

@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """slurmctld and slurmd on localhost, up until the module's tests are done; SLURM_CONF names it."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).parents[1] / ".ci" / "slurm-local"
    folder = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(["bash", str(script), "start", str(folder)], capture_output=True, text=True)
    assert up.returncode == 0, f"no local Slurm (.ci/slurm-local start needs root and Debian's slurm-wlm): {up.stderr}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", str(folder / "slurm.conf"))
        mp.setenv("PYTHONPATH", os.path.dirname(__file__), prepend=os.pathsep)  # this module's toy jobs
        yield folder
        subprocess.run(["bash", str(script), "stop", str(folder)], capture_output=True)


def slurm_engine(folder, runs_per_job=1):
    return engines.make("slurm", slurm=engines.SlurmOptions(folder=str(folder / "submitit"),
                                                            runs_per_job=runs_per_job))


def where_it_ran(x):
    return {k: os.environ.get(k) for k in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "OMP_NUM_THREADS",
                                           "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")} | {"x": x}


@cluster
def test_a_real_slurm_runs_the_jobs_as_one_array_with_the_pin_and_one_thread(slurm_cluster):
    got = slurm_engine(slurm_cluster).map(where_it_ran, [1, 2, 3])
    assert [g["x"] for g in got] == [1, 2, 3]
    assert len({g["SLURM_ARRAY_JOB_ID"] for g in got}) == 1
    assert {g["SLURM_ARRAY_TASK_ID"] for g in got} == {"0", "1", "2"}
    pin = {k: os.environ.get(k) for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")}
    assert all(g["OMP_NUM_THREADS"] == "1" and {k: g[k] for k in pin} == pin for g in got)


@cluster
def test_a_stored_claim_case_made_on_a_real_slurm_equals_its_records(slurm_cluster, tmp_path):
    """Pretrained as one Slurm job into the shared cache, then the runs as one job array."""
    done = made_on("slurm", tmp_path / "cache")
    assert equals_its_records(done), done.stdout[-3000:] + done.stderr[-3000:]
    assert "pretraining 1 base model(s)" in done.stderr + done.stdout


def naps_at_two(x):
    if x == 2:
        time.sleep(300)
    return 10 * x


@cluster
def test_a_slurm_job_cancelled_with_scancel_fails_its_run_alone(slurm_cluster):
    import subprocess

    def cancel_the_second():
        for _ in range(120):
            shown = subprocess.run(["squeue", "-h", "-o", "%i %T", "-n", "peft-edge-repro"], capture_output=True,
                                   text=True).stdout.split()
            running = [job for job, state in zip(shown[::2], shown[1::2], strict=True)
                       if job.endswith("_1") and state == "RUNNING"]
            if running:
                subprocess.run(["scancel", running[0]])
                return
            time.sleep(0.5)

    threading.Thread(target=cancel_the_second, daemon=True).start()
    got = {}
    start = time.monotonic()
    with pytest.raises(engines.JobsFailed, match="1 of 3 failed on slurm") as err:
        slurm_engine(slurm_cluster).map(naps_at_two, [1, 2, 3], on_result=got.__setitem__)
    assert got == {1: 10, 3: 30} and "left the queue without a result" in str(err.value)
    assert time.monotonic() - start < 120  # noticed from squeue, without sacct, not after the nap


def test_slurm_asks_squeue_once_for_every_job_and_takes_a_job_for_lost_at_its_second_absence(tmp_path, monkeypatch):
    """One squeue call per look, whatever the number of jobs (a glyph grid queues 23); a job neither queued nor
    finished is lost at the second look that misses it; a squeue that fails loses nothing."""
    from types import SimpleNamespace

    calls = tmp_path / "calls"
    squeue = tmp_path / "squeue"
    squeue.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nprintf "7_0\\n7_2\\n"\n')
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    queued = engines._queued()
    assert queued == {"7_0", "7_2"} and len(calls.read_text().splitlines()) == 1
    assert "-r" in calls.read_text().split()  # one line per array task

    def job(job_id, done=False):
        return SimpleNamespace(job_id=job_id, done=lambda: done)

    running = {(0,): job("7_0"), (1,): job("7_1"), (2,): job("7_2"), (3,): job("7_3", done=True)}
    absent = {}
    assert engines._lost(running, absent, queued) == []  # 7_1 missed once: it may have just finished
    assert engines._lost(running, absent, queued) == [(1,)]
    assert engines._lost(running, absent, queued | {"7_1"}) == [] and "7_1" not in absent  # seen again: reset

    squeue.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n")
    assert engines._queued() is None


def test_submitits_warning_that_sacct_failed_is_shown_once_a_map(caplog):
    """On a cluster without job accounting sacct fails at every look at a job, and submitit warns each time."""
    log = logging.getLogger("submitit")
    with engines._sacct_warned_once():
        for call in (1, 2, 3):
            log.warning(f"Call #{call} - Bypassing sacct error Command 'sacct' returned non-zero exit status 1.")
        log.warning("another warning")
    log.warning("Call #1 - Bypassing sacct error, in the next map")
    assert [r.getMessage()[:9] for r in caplog.records] == ["Call #1 -", "another w", "Call #1 -"]


@cluster
def test_each_slurm_map_has_a_submitit_folder_of_its_own(tmp_path):
    """submitit finds a job's result by the job's id in its folder; a Slurm controller started afresh numbers
    its jobs from 1 again, so with one folder for every map a new job 1 was handed an old job 1's result."""
    engine = engines.make("slurm:local", slurm=engines.SlurmOptions(folder=str(tmp_path)))
    first, second = engine._executor().folder, engine._executor().folder
    assert first != second and first.parent.parent == second.parent.parent == tmp_path
