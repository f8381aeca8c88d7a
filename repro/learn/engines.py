"""Where many jobs run: this machine's processes, a Ray cluster, or Slurm through submitit.

Every job is a function of its item alone (a spec) and returns a plain value, so any engine that runs
Python functions can run it. This module hands the jobs over and collects what comes back; the
engines schedule.

    engine = make("ray:auto")     # local (the default), ray, ray:auto, ray://head:10001, slurm, slurm:local
    values = engine.map(run_one, specs, desc="adaptation runs", on_result=store.put)
    engine.close()

A job that fails (an exception, a killed worker, a lost node) does not take the others with it: each
value is handed to `on_result` as it comes back, and once every job has ended `map` raises JobsFailed
naming each failed item with the engine's own message.

A remote worker (Ray, submitit) trains as the local pool does: its environment carries the kernel pin
(repro/kernels.py) and one thread, and before a job it checks both and refuses in words if either
differs (another CPU's kernels, a node's own OMP_NUM_THREADS). No torch at import: a worker imports
this module before torch, so the pin is in place when torch reads it.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import multiprocessing
import os
import shlex
import socket
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

EXECUTOR_ENV = "REPRO_EXECUTOR"
WORKERS_ENV = "REPRO_WORKERS"
RUNS_DIR_ENV = "REPRO_RUNS_DIR"  # where repro/learn/runstore.py keeps finished runs
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # a run is single-threaded (repro/determinism.py)
CHOICES = "local, ray (a Ray instance started here), ray:auto, ray://host:port, slurm, slurm:local"
INSTALL = "pip install -e '.[cluster]' (here and on every worker)"


class EngineError(ValueError):  # a setting: one line from the CLI and pytest
    pass


class WorkerSetupError(RuntimeError):  # raised in a worker whose settings would make other numbers
    pass


class JobsFailed(RuntimeError):
    def __init__(self, engine: str, failures: dict, total: int, note: str = ""):
        self.failures = failures  # item -> the engine's message
        lines = "".join(f"\n  {_describe(item)}: {message}" for item, message in failures.items())
        super().__init__(f"{len(failures)} of {total} failed on {engine}; the other {total - len(failures)} "
                         f"finished{'; ' + note if note else ''}:{lines}")


class _Gather:
    """What comes back from an engine's jobs: each value in its item's place, handed to `on_result` as it
    arrives; each failure with the engine's message; JobsFailed once every job has ended."""

    def __init__(self, engine: str, items: list, desc: str | None, where: str, on_result):
        self.engine, self.items, self.on_result = engine, items, on_result
        self.results, self.failures = {}, {}
        self.bar = tqdm(total=len(items), desc=f"{desc} ({where})", disable=desc is None)  # None: no bar

    def ok(self, i: int, value) -> None:
        self.results[i] = value
        if self.on_result:
            self.on_result(self.items[i], value)
        self.bar.update()

    def fail(self, i: int, message: str) -> None:
        self.failures[self.items[i]] = message
        self.bar.update()

    def values(self, cause: BaseException | None = None) -> list:
        self.bar.close()
        if self.failures:
            raise JobsFailed(self.engine, self.failures, len(self.items)) from cause
        return [self.results[i] for i in range(len(self.items))]


def _describe(item) -> str:
    key, seed = getattr(item, "key", None), getattr(item, "seed", None)
    return f"{key} seed {seed}" if key and seed is not None else str(item)


def cores() -> int:
    """The cores this process may run on (its affinity, which a container or taskset narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def lanes(workers: int | None, n: int) -> int:
    """How many of `n` jobs run at once on this machine: `workers` (None: default_workers), at most n."""
    return max(1, min(workers or default_workers(), n))


def default_workers() -> int:
    value = os.environ.get(WORKERS_ENV)
    if value is None:
        return cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${WORKERS_ENV} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time_min: int = 60  # per job: 8 glyph runs take 3-8 minutes on one core, a glyph pretraining 15-35
    cpus_per_task: int = 1
    folder: str | None = None  # submitit's logs and pickles, on a file system the nodes share; None: in the cache
    # A job starts a Python that imports torch and peft (about 5 s on a 2-core EPYC, a quarter of a glyph
    # run): 8 runs a job bring that under 5% of their time (docs/clusters.md). 1: a job per run.
    runs_per_job: int = 8

    def __post_init__(self):
        for name in ("time_min", "cpus_per_task", "runs_per_job"):
            if getattr(self, name) < 1:
                option = "--slurm-" + name.replace("_", "-")
                raise ValueError(f"{option} {getattr(self, name)}: must be at least 1")


def worker_env(cache: str | None = None) -> dict[str, str]:
    """What a remote worker's environment must hold before it imports torch: the kernel pin (or
    REPRO_ISA as here), one thread, and, for Slurm, the shared base-model cache."""
    from repro import kernels

    env = dict(THREADS)
    if kernels.wanted() == "pinned":
        env.update(kernels.PIN)
    if os.environ.get(kernels.ISA_ENV):
        env[kernels.ISA_ENV] = os.environ[kernels.ISA_ENV]
    if cache:
        env["REPRO_CACHE_DIR"] = cache
    return env


def expected_settings() -> dict:
    """The settings this process trains with, which every remote worker must find in its own."""
    from repro import kernels

    return {"kernels": kernels.kernel_set(), "threads": THREADS["OMP_NUM_THREADS"]}


def check_worker(expected: dict) -> None:
    """A remote worker's first act: refuse in words where its settings would train other numbers."""
    from repro import kernels

    host = socket.gethostname()
    problem = kernels.pin_problem()
    if problem:
        raise WorkerSetupError(f"worker on {host}: {problem}")
    found = {"kernels": kernels.kernel_set(), "threads": os.environ.get("OMP_NUM_THREADS")}
    if found != expected:
        wrong = ", ".join(f"{k} {found[k]} (the runs need {expected[k]})" for k in expected if found[k] != expected[k])
        raise WorkerSetupError(f"worker on {host} refuses to train with {wrong}: its environment lost what the "
                               f"engine set (a node's own OMP_NUM_THREADS or REPRO_ISA?)")


def _ready(expected: dict, files: dict | None) -> None:
    """A remote job's first act: check the worker, then put the base models it was sent in its cache."""
    check_worker(expected)
    if files:
        from repro.learn.zoo import install

        install(files)


def _job(fn, item, expected: dict, files: dict | None):
    """One item on a remote worker (Ray)."""
    _ready(expected, files)
    return fn(item)


def _jobs(fn, items, expected: dict, files: dict | None) -> list:
    """Several items in one job (submitit): (True, value) or (False, the item's error) for each, so that
    one run's error fails that run alone; a worker that dies fails them all (the engine says so)."""
    _ready(expected, files)
    out = []
    for item in items:
        try:
            out.append((True, fn(item)))
        except Exception as err:
            out.append((False, _message(err)))
    return out


class Local:
    """Today's pool: one spawned process per core on this machine (spawn, not fork: a forked child
    inherits torch's thread pools and locks mid-use)."""

    name, ships_files = "local", False

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def at_once(self, n: int) -> int:
        return lanes(self.workers, n)

    def map(self, fn, items, desc=None, on_result=None, files=None, per_job=None) -> list:
        items = list(items)
        workers = self.at_once(len(items))
        gather, first = _Gather(self.name, items, desc, f"{workers} workers", on_result), None
        if workers == 1:
            for i, item in enumerate(items):
                gather.ok(i, fn(item))  # here an exception is the item's own: raised as it is
        else:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(fn, item) for item in items]
                for i, f in enumerate(futures):
                    try:
                        gather.ok(i, f.result())
                    except Exception as err:
                        first = first or err
                        gather.fail(i, _first_line(err))
        if len(gather.failures) == 1 and not _died(first):
            gather.bar.close()
            raise first  # one run's own error (an impossible rank, a refused pin): as the run raised it
        return gather.values(cause=first)

    def close(self) -> None:
        pass


def _died(err) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return isinstance(err, BrokenProcessPool)


def _message(err) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _first_line(err) -> str:
    return "a worker process died (killed, or out of memory) before this job finished" if _died(err) else _message(err)


class Ray:
    """Ray: a local instance (`ray`, num_cpus = workers) or a running cluster (`ray:auto`, `ray://...`).
    One CPU per job; a job whose worker dies is given back to Ray once (max_retries=1), then fails."""

    name, ships_files = "ray", True  # base models travel through the object store: no shared disk needed

    def __init__(self, address: str | None, workers: int | None = None):
        self.address, self.workers, self.started = address, workers, False
        self.ray = _import("ray", "ray")

    def _start(self):
        ray = self.ray
        if ray.is_initialized():  # by this engine, or by the caller's own ray.init: used as it is
            self._check_joined()
            return
        kwargs = {"runtime_env": {"env_vars": worker_env()}, "include_dashboard": False, "log_to_driver": False}
        if self.address is None:  # a local instance for this run: as many CPUs as workers, a small object store
            kwargs.update(num_cpus=self.workers or default_workers(), object_store_memory=512 * 2**20)
        try:
            if self.address == "auto" and not _client(os.environ.get("RAY_ADDRESS")):
                _check_head()  # before ray.init, which waits for a head that does not answer without end
            ray.init(address=self.address, **kwargs)
        except ValueError as err:
            if "ray[client]" not in str(err):
                raise
            raise EngineError(f"--executor {self.spec}: a ray:// address goes through Ray Client, which needs "
                              f"pip install 'ray[client]' on this machine (the [cluster] extra installs ray alone); "
                              f"or run pytest on the head with ray:auto") from None
        except (ConnectionError, TimeoutError) as err:  # no head at the address: Ray's own is many lines
            raise EngineError(f"--executor {self.spec}: no Ray cluster answered ({_first(err)}); start its "
                              f"head with `ray start --head`, or name a running one's address (ray://<head>:10001), "
                              f"see docs/clusters.md") from None
        self.started = True

    @property
    def spec(self) -> str:
        return "ray" if self.address is None else self.address if _client(self.address) else f"ray:{self.address}"

    def _check_joined(self) -> None:
        """This process is connected to Ray already (ray.init before the engine): refuse where $RAY_ADDRESS
        names another cluster for ray:auto, since the runs would go where the user did not send them."""
        named = os.environ.get("RAY_ADDRESS")
        if self.started or self.address != "auto" or not named or _client(named):
            return
        here = self.ray.get_runtime_context().gcs_address
        if _canonical(named) != here:
            raise EngineError(f"--executor ray:auto: this process is connected to the Ray cluster at {here} "
                              f"already (ray.init before the run), not to the one $RAY_ADDRESS names ({named}); "
                              f"call ray.shutdown() first, or unset RAY_ADDRESS to use the connected one")

    def at_once(self, n: int) -> int:
        return lanes(self.workers, n) if self.address is None else n  # a cluster: as many as it has CPUs

    def map(self, fn, items, desc=None, on_result=None, files=None, per_job=None) -> list:
        items = list(items)
        if not items:  # nothing to make: no instance to start
            return []
        self._start()
        ray = self.ray
        job = ray.remote(num_cpus=1, max_retries=1)(_job)
        shared = ray.put(files) if files else None  # once in the object store, fetched by each worker
        expected = expected_settings()
        refs = [job.remote(fn, item, expected, shared) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        cpus = int(ray.cluster_resources().get("CPU", 0))
        gather, pending = _Gather(self.name, items, desc, f"ray, {cpus} CPUs", on_result), list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = index[ready[0]]
            try:
                value = ray.get(ready[0])
            except Exception as err:  # RayTaskError (the job's), WorkerCrashedError, NodeDiedError, OutOfMemoryError
                gather.fail(i, _ray_message(err))
            else:
                gather.ok(i, value)
        return gather.values()

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


HEAD_ANSWER_S = 5.0  # a head whose port accepts no connection in this long is taken for down


def _client(address: str | None) -> bool:
    return bool(address) and address.startswith("ray://")


def _canonical(address: str) -> str:
    """host:port of the head `address` names, as Ray reads it (auto: $RAY_ADDRESS, else the cluster the last
    `ray start` here recorded, else one running here); ConnectionError when there is none."""
    from ray._private.services import canonicalize_bootstrap_address_or_die

    return canonicalize_bootstrap_address_or_die(address)


def _check_head() -> None:
    """ConnectionError unless the head ray:auto would join accepts a connection: ray.init retries a GCS that does
    not answer for as long as it runs (a head stopped without `ray stop` leaves its address recorded here)."""
    head = _canonical("auto")
    host, port = head.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=HEAD_ANSWER_S).close()
    except OSError as err:
        source = ("the address in $RAY_ADDRESS" if os.environ.get("RAY_ADDRESS") else
                  "the address the last `ray start` on this machine recorded (a head stopped without `ray stop`?)")
        raise ConnectionError(f"nothing answers at {head}, {source}: {err.strerror or err}") from None


def _first(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _ray_message(err) -> str:
    return _message(getattr(err, "cause", None) or err)  # a RayTaskError carries the job's own exception


QUEUE_CHECK_S = 5.0  # how often a Slurm map looks in squeue for jobs that left without a result


class Submitit:
    """Slurm through submitit (`slurm`), or submitit's local executor (`slurm:local`: the same path, with
    processes on this machine, at most `workers` at a time). Jobs of `runs_per_job` items (pretrainings:
    one each), in a job array on Slurm.
    The base-model cache and the submitit folder must be on a file system every node mounts."""

    ships_files = False

    def __init__(self, cluster: str, workers: int | None = None, options: SlurmOptions = SlurmOptions()):
        self.cluster, self.workers, self.options = cluster, workers, options
        self.name = "slurm" if cluster == "slurm" else "submitit (local)"
        self.submitit = _import("submitit", "slurm")

    def at_once(self, n: int) -> int:
        return n if self.cluster == "slurm" else lanes(self.workers, n)  # Slurm queues the whole array

    def _executor(self):
        from repro.learn.zoo import cache_dir

        cache = cache_dir().parent
        # one folder per map: submitit finds a job's result by its id in the folder, and a controller started
        # afresh numbers its jobs from 1 again, so a shared folder handed back another day's results at once
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder = Path(self.options.folder or cache / "submitit") / run
        executor = self.submitit.AutoExecutor(folder=folder / "%j", cluster=self.cluster)
        setup = [f"export {k}={shlex.quote(v)}" for k, v in worker_env(str(cache)).items()]
        params = {"timeout_min": self.options.time_min, "cpus_per_task": self.options.cpus_per_task,
                  "name": "peft-edge-repro"}
        if self.cluster == "slurm":
            params["slurm_setup"] = setup
            if self.options.partition:
                params["slurm_partition"] = self.options.partition
        else:
            params["local_setup"] = setup
        executor.update_parameters(**params)
        return executor

    def map(self, fn, items, desc=None, on_result=None, files=None, per_job=None) -> list:
        items = list(items)
        if not items:
            return []
        executor, expected = self._executor(), expected_settings()
        size = max(1, per_job or self.options.runs_per_job)
        size = min(size, -(-len(items) // self.at_once(len(items))))  # never fewer jobs than run at once
        chunks = [list(range(i, min(i + size, len(items)))) for i in range(0, len(items), size)]
        limit = self.at_once(len(chunks))
        gather = _Gather(self.name, items, desc, f"{self.name}, {len(chunks)} jobs, {limit} at a time", on_result)
        queue, running, absent, looked = list(chunks), {}, {}, 0.0
        with _sacct_warned_once():
            while queue or running:
                if queue and len(running) < limit:
                    batch = [queue.pop(0) for _ in range(min(limit - len(running), len(queue)))]
                    jobs = self._submit(executor, [(tuple(c), [items[i] for i in c]) for c in batch], fn, expected,
                                        files)
                    running.update(jobs)
                finished = [c for c, job in running.items() if job.done()]
                if not finished and time.monotonic() - looked > QUEUE_CHECK_S:
                    looked = time.monotonic()
                    self._fail_the_lost(running, absent, gather)
                for chunk in finished:
                    _collect(running.pop(chunk), chunk, gather)
                if not finished:
                    time.sleep(0.2)
        return gather.values()

    def _submit(self, executor, chunks, fn, expected, files) -> list:
        """Each chunk as one job of one array; a controller that cannot be reached is one line, not sbatch's
        stderr inside submitit's traceback."""
        try:
            with executor.batch():
                return [(chunk, executor.submit(_jobs, fn, its, expected, files)) for chunk, its in chunks]
        except FileNotFoundError:
            raise EngineError("--executor slurm: this machine has no sbatch (no Slurm client); run it on a "
                              "cluster's login node, or use slurm:local to try the path here") from None
        except self.submitit.core.utils.FailedJobError as err:
            raise EngineError(f"--executor slurm: sbatch could not submit ({_message(err)}); check that the "
                              f"controller answers here (`sinfo`), see docs/clusters.md") from None

    def _fail_the_lost(self, running: dict, absent: dict, gather) -> None:
        """Fail the runs of each Slurm job that is no longer queued or running and wrote no result: cancelled
        (scancel), or lost with its node. submitit learns that from sacct, which a cluster without accounting
        does not have; squeue tells it too, for every job in one call. Absent at two looks in a row, so that a
        job finishing between them is read; when squeue cannot answer, no job is taken for lost."""
        if self.cluster != "slurm":
            return
        queued = _queued()
        for chunk in _lost(running, absent, queued) if queued is not None else []:
            job = running.pop(chunk)
            for i in chunk:
                gather.fail(i, f"Slurm job {job.job_id} left the queue without a result (cancelled with scancel, "
                               f"or its node was lost)")

    def close(self) -> None:
        pass


class _OnceFilter(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text, self.seen = text, False

    def filter(self, record) -> bool:
        if self.text not in record.getMessage():
            return True
        seen, self.seen = self.seen, True
        return not seen


@contextlib.contextmanager
def _sacct_warned_once():
    """submitit warns at every look at a job when sacct fails, which it does on every poll of a cluster
    without job accounting (where this engine follows the jobs through squeue): the first warning only."""
    log, once = logging.getLogger("submitit"), _OnceFilter("Bypassing sacct error")
    log.addFilter(once)
    try:
        yield
    finally:
        log.removeFilter(once)


def _queued() -> set[str] | None:
    """The ids of this user's queued and running Slurm jobs, one per array task ("1234_5"), or None when squeue
    fails (the controller did not answer)."""
    shown = subprocess.run(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i"], capture_output=True,
                           text=True)
    return set(shown.stdout.split()) if shown.returncode == 0 else None


def _lost(running: dict, absent: dict, queued: set[str]) -> list:
    """The chunks of `running` whose job squeue has not shown at two looks in a row and that have no result;
    `absent` counts the looks, from one call to the next."""
    lost = []
    for chunk, job in running.items():
        if str(job.job_id) in queued or job.done():
            absent.pop(job.job_id, None)
            continue
        absent[job.job_id] = absent.get(job.job_id, 0) + 1
        if absent[job.job_id] >= 2:
            lost.append(chunk)
    return lost


def _collect(job, chunk, gather) -> None:
    """A finished submitit job's outcome for each of its items."""
    try:
        outcomes = job.result()
    except Exception as err:  # FailedJobError (the job's exception), UncompletedJobError (killed)
        outcomes = [(False, _submitit_message(err))] * len(chunk)
    for i, (ok, value) in zip(chunk, outcomes, strict=True):
        if ok:
            gather.ok(i, value)
        else:
            gather.fail(i, value)


def _submitit_message(err) -> str:
    text = str(err).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    own = [ln for ln in lines if "Error:" in ln and not ln.startswith("submitit")]  # the job's own last error
    return own[-1] if own else (lines[0] if lines else type(err).__name__)


def _import(module: str, engine: str):
    try:
        return __import__(module)
    except ImportError:
        raise EngineError(f"--executor {engine} needs {module}, which is not installed: {INSTALL}") from None


def make(spec: str | None = None, workers: int | None = None, slurm: SlurmOptions = SlurmOptions()):
    """The engine `spec` names (None: $REPRO_EXECUTOR, else local)."""
    spec = (spec or os.environ.get(EXECUTOR_ENV) or "local").strip()
    if spec == "local":
        return Local(workers)
    if spec == "ray":
        return Ray(None, workers)
    if spec == "ray:auto" or spec.startswith("ray://"):
        return Ray(spec.removeprefix("ray:") if spec == "ray:auto" else spec, workers)
    if spec in ("slurm", "slurm:local"):
        return Submitit("slurm" if spec == "slurm" else "local", workers, slurm)
    raise EngineError(f"unknown executor {spec!r}: use one of {CHOICES} (--executor or ${EXECUTOR_ENV})")
