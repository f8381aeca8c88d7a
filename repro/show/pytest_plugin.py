"""The pytest plugin: the suite's options, the baseline store, and the fixtures its tests (and yours) use.

Installed with the package as the pytest11 entry point `repro`, so any project whose environment has
peft-edge-repro gets it (`-p no:repro` turns it off):

* `measure(spec)` profiles one CaseSpec (FLOPs, memory, parameters), memoised for the session;
* `baselines.check(group, case, metrics)` compares metrics with <rootdir>/baselines/<platform>/<group>.json
  (or --baselines-dir), failing with the metric, both values and the command that re-records it;
* `pytest --update-baselines --baseline-reason "why"` writes the measured metrics instead, keeping the
  reason in the file's history;
* the claims machinery this repository's tests read (`evidence`, `claim_outcomes`, the verdict tables
  at the end of a run), which is idle in a project whose tests do not ask for it.

A plugin, not a conftest: pytest reads a conftest's options only once it has found the conftest, and it
looks for conftests along every argument that names an existing path, option values included, so
`pytest -m paper_claims --baselines-dir /some/folder` would not know --baselines-dir. torch is imported
only when a fixture or a run needs it, since every pytest run in the environment loads this module.
"""

import contextlib
import dataclasses
import functools
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from tabulate import tabulate

from repro import kernels
from repro.case.protocol import ACCURACY_SEEDS
from repro.case.specs import BENCHMARKS, DataSpec, data_root
from repro.files import reports_dir, write_text
from repro.learn import engines
from repro.verify import baselines as bl
from repro.verify import remeasure, verdicts
from repro.verify.evidence import RECORD_GROUPS, TIME_GROUPS, MeasuredEvidence, MissingRecord, RecordedEvidence


def pytest_addoption(parser):
    group = parser.getgroup("peft-edge-repro")
    group.addoption("--update-baselines", action="store_true",
                    help="re-measure and write baselines/<platform>/*.json instead of comparing")
    group.addoption("--baseline-reason", default="",
                    help="why the numbers move (required with --update-baselines; stored in the file)")
    group.addoption("--baselines-dir", default=None, help="default: <rootdir>/baselines")
    group.addoption("--data-root", default=None,
                    help="local CIFAR-10 / CIFAR-10-C / VWW copy (default: $REPRO_DATA_ROOT, else the embedded "
                         "--benchmark)")
    group.addoption("--device", default="cpu", help="where cost cases run (cpu, cuda)")
    group.addoption("--benchmark", default="glyphs", choices=BENCHMARKS,
                    help="the embedded data the accuracy grid and claims read (default: glyphs, the calibrated "
                         "benchmark; digits: the quick one the unit tests train on)")
    group.addoption("--remeasure", choices=remeasure.MODES, default=None,
                    help="sample (the default): read the accuracy claims' runs from the stored records and make "
                         "one seed of each deciding case again, which must equal its record to the last digit; "
                         "all: make every run (the default with --update-baselines, --data-root or "
                         "--accuracy-rule statistical)")
    group.addoption("--sample-seed", type=int, default=None,
                    help="the seed --remeasure sample makes again (default: the day's, turning through the seeds "
                         "one a day, UTC)")
    group.addoption("--accuracy-rule", choices=("exact", "statistical"), default="exact",
                    help="how trained numbers are compared with their records: exact, seed by seed (the kernel "
                         "pin makes them equal on every x86_64 CPU), or statistical, for a CPU that does not "
                         "reproduce them under the pin (docs/baselines.md): stored means within 3 standard errors")
    group.addoption("--executor", default=None,
                    help=f"where the runs, pretrainings and analytic cost cases go: {engines.CHOICES} (default: "
                         f"${engines.EXECUTOR_ENV}, else local, this machine's processes; docs/clusters.md)")
    group.addoption("--runs-dir", default=None,
                    help=f"keep each finished run here, keyed by its spec and code, and make only what is missing "
                         f"(default: ${engines.RUNS_DIR_ENV}, else none: every run is made)")
    group.addoption("--slurm-partition", default=None, help="--executor slurm: the partition (default: the cluster's)")
    group.addoption("--slurm-time-min", type=int, default=engines.SlurmOptions.time_min,
                    help="--executor slurm: the time limit of one job, in minutes")
    group.addoption("--slurm-cpus-per-task", type=int, default=engines.SlurmOptions.cpus_per_task,
                    help="--executor slurm: CPUs per job (a run uses one thread; more only buys memory bandwidth)")
    group.addoption("--slurm-runs-per-job", type=int, default=engines.SlurmOptions.runs_per_job,
                    help="--executor slurm: runs in one job (a job's Python start is paid once for them; 1: a job "
                         "per run, so that a lost node loses one run)")
    group.addoption("--slurm-folder", default=None,
                    help="--executor slurm: submitit's folder, on a disk every node mounts (default: beside the "
                         "base-model cache)")
    group.addoption("--report", action="store_true",
                    help="at the end, write the report (reports/index.md, .html, figures) from this run")


def engine_from(config):
    """The engine the options name (--executor and the --slurm-* options)."""
    slurm = engines.SlurmOptions(config.getoption("--slurm-partition"), config.getoption("--slurm-time-min"),
                                 config.getoption("--slurm-cpus-per-task"), config.getoption("--slurm-folder"),
                                 config.getoption("--slurm-runs-per-job"))
    return engines.make(config.getoption("--executor"), slurm=slurm)


SUITE_GROUPS = {*bl.COUNTED, *TIME_GROUPS.values()}  # the suite's own baseline files (besides accuracy-*)


class BaselineStore:
    """Compares measured metrics with baselines/<platform>/<group>.json, or collects them to write."""

    def __init__(self, config):
        self.root = Path(config.getoption("--baselines-dir") or config.rootpath / "baselines")
        self.device = config.getoption("--device")
        self.platform = bl.platform_name(self.device)
        self.updating = config.getoption("--update-baselines")
        self.reason = config.getoption("--baseline-reason")
        self.rule = config.getoption("--accuracy-rule")
        self.loaded = {}
        self.new = defaultdict(dict)  # group -> case -> metrics to write (--update-baselines)
        self.seen = defaultdict(dict)  # group -> case -> metrics measured in this run, for the report

    def path(self, group) -> Path:
        own = bl.path(self.root, self.platform, group, self.device)
        if self.rule == "statistical" and not self.updating and not own.exists() and group in bl.PER_KERNEL_SET:
            return self.first(group)  # a kernel set with no records of its own is held to them, statistically
        return own

    def first(self, group) -> Path:
        """The first records of a trained group (AMD's kernel set, repro/kernels.py), whatever this CPU's."""
        return bl.path(self.root, self.platform, group, self.device).with_name(f"{group}.json")

    def _load(self, group):
        if group not in self.loaded:
            try:
                self.loaded[group] = bl.load(self.path(group))
            except bl.BaselineError as err:
                self.loaded[group] = err
        if isinstance(self.loaded[group], Exception):
            raise self.loaded[group]
        return self.loaded[group]

    def check(self, group: str, case: str, metrics: dict) -> None:
        self.seen[group][case] = metrics
        if self.updating:
            self.new[group][case] = metrics
            return
        if not self.path(group).exists():
            pytest.fail(f"no baseline file {self.path(group)} (case {case}); record it with: {self.hint(group, case)}"
                        + self.first_records(group), pytrace=False)
        try:
            cases, problem = self._load(group)["cases"], None
        except bl.BaselineError as err:
            cases, problem = None, str(err)
        if problem:  # outside the except block: one message, not chained to the error it replaces
            pytest.fail(problem, pytrace=False)
        if case not in cases:
            pytest.fail(f"no baseline for case {case} in {self.path(group)}; record it with: {self.hint(group, case)}",
                        pytrace=False)
        problems = bl.compare(metrics, cases[case], self.rule)
        if problems and self.rule == "statistical" and group.startswith("accuracy"):
            problems.append("(compared by the statistical rule, --accuracy-rule statistical, not seed by seed)")
        if problems:
            # a different torch or peft explains a wall of diffs at once, so it is said first
            mismatch = self.mismatch(group)
            first = f"{self.path(group)} was {mismatch}\n" if mismatch else ""
            pytest.fail(f"{first}{case} differs from {self.path(group)}:\n  " + "\n  ".join(problems)
                        + f"\nif the change is intended, re-record it and say why: {self.hint(group, case)}",
                        pytrace=False)

    def first_records(self, group: str) -> str:
        """For a trained group whose kernel set has no file of its own (Intel's, repro/kernels.py) beside the
        first records (AMD's): the other way out."""
        first = self.first(group)
        if group not in bl.PER_KERNEL_SET or first == self.path(group) or not first.exists():
            return ""
        return (f"; or, with no records of this CPU's kernel set ({kernels.kernel_set()}), hold its runs to "
                f"{first.name} statistically: --accuracy-rule statistical")

    @staticmethod
    def hint(group: str, case: str) -> str:
        """The command that re-records `case`: the suite's own form for its groups (their tests are marked
        and deselected by default), else the running test by its node id, as in any other project."""
        if group in SUITE_GROUPS or group.startswith("accuracy-"):
            return bl.update_hint(case)
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        return f'pytest {f"{test!r} " if test else ""}--update-baselines --baseline-reason "<why>"'

    def check_again(self, group: str, case: str, seed: int, problems: list[str], hint: str) -> None:
        """A stored run made again (--remeasure sample): equal to its record in every reading, or the case
        fails with both values and the command that re-records it."""
        if problems:
            mismatch = self.mismatch(group)
            first = f"{self.path(group)} was {mismatch}\n" if mismatch else ""
            pytest.fail(f"{first}{case} seed {seed}, made again here, differs from its record in {self.path(group)}:"
                        f"\n  " + "\n  ".join(problems) + f"\nif the change is intended, re-record the case (every "
                        f"seed) and say why: {hint}\nif nothing changed, {kernels.not_reproduced()}", pytrace=False)

    def cases(self, group: str) -> dict:
        """A group's stored cases (BaselineError names the file and the fix)."""
        return self._load(group)["cases"]

    def keep(self, group: str, case: str, metrics: dict) -> None:
        """A measurement the claims read, kept with the run's records (results.json) if no test stored it."""
        self.seen[group].setdefault(case, metrics)

    def mismatch(self, group) -> str | None:
        return bl.environment_mismatch(self._load(group)["environment"], self.environment)

    @functools.cached_property
    def environment(self) -> dict:
        """This run's library versions and platform, read once (every failing case compares them)."""
        from repro.measure.profile import environment

        return environment(self.device)

    def mismatches(self) -> list[str]:
        """One line per loaded baseline file recorded in another environment."""
        return [f"{self.path(g)} was {m}" for g, data in sorted(self.loaded.items())
                if not isinstance(data, Exception) and (m := self.mismatch(g))]


def pytest_configure(config):
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:  # xdist: share the cores, since oversubscribed OpenMP threads spin and slow everyone 10x
        import torch

        torch.set_num_threads(max(1, engines.cores() // int(workers)))
    try:
        config.stash[STORE] = BaselineStore(config)
    except bl.BaselineError as err:  # e.g. a $REPRO_PLATFORM that is a path: one line, before anything runs
        raise pytest.UsageError(str(err)) from None
    config.stash[OUTCOMES] = []
    config.stash[ROWS] = []
    try:  # before any case runs: --device cuda on a machine without one is one line, not a failure per case
        if config.getoption("--device") != "cpu":
            from repro.measure.profile import check_device

            check_device(config.getoption("--device"))
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    if config.getoption("--update-baselines") and not config.getoption("--baseline-reason").strip():
        raise pytest.UsageError('--update-baselines needs --baseline-reason "which change moved which metric"')
    config.stash[REMEASURE] = remeasure_mode(config)
    try:  # an unknown engine, or one whose extra is missing: one line before anything runs
        config.stash[ENGINE] = engine_from(config)
        folder = config.getoption("--runs-dir") or os.environ.get(engines.RUNS_DIR_ENV)
        if folder:
            from repro.learn.runstore import RunStore  # imports the training side, torch

            config.stash[RUNS] = RunStore(folder)
        else:
            config.stash[RUNS] = None
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    seed = config.getoption("--sample-seed")
    if seed is not None and seed not in ACCURACY_SEEDS:
        raise pytest.UsageError(f"--sample-seed {seed}: the records hold seeds {', '.join(map(str, ACCURACY_SEEDS))}")


def remeasure_mode(config) -> str:
    """--remeasure, resolved: sample unless this run must make every run (or was told to)."""
    fresh = [why for why, on in (("--update-baselines records every run", config.getoption("--update-baselines")),
                                 ("real data (--data-root) has no records", data_root(config.getoption("--data-root"))),
                                 ("--accuracy-rule statistical compares fresh means over every seed",
                                  config.getoption("--accuracy-rule") == "statistical")) if on]
    chosen = config.getoption("--remeasure")
    if chosen == "sample" and fresh:
        raise pytest.UsageError(f"--remeasure sample reads stored runs, but {fresh[0]}: use --remeasure all")
    return chosen or ("all" if fresh else "sample")


def sampled(config) -> tuple[dict, dict, list]:
    """--remeasure sample, from the baseline files: (the data's stored accuracy cases, claim id -> the
    cases its verdict rests on, the runs made again). Raises BaselineError or MissingRecord, each naming
    the file and the fix."""
    if SAMPLE not in config.stash:
        store, data = config.stash[STORE], accuracy_data(config)
        stored = store.cases(data.group)
        records = {g: store.cases(g) for g in RECORD_GROUPS if store.path(g).exists()}  # loaded once, kept
        deciding = remeasure.deciding_cases({**records, data.group: stored}, data)
        seed = config.getoption("--sample-seed")
        config.stash[SAMPLE] = stored, deciding, remeasure.sample_specs(
            deciding, data, remeasure.day_seed() if seed is None else seed)
    return config.stash[SAMPLE]


def sample_keys(config) -> set | None:
    """The accuracy cases a sample makes again, or None: every case (--remeasure all, or no records to
    sample from, which the case's test then reports)."""
    if config.stash[REMEASURE] != "sample":
        return None
    try:
        return {s.key for s in sampled(config)[2]}
    except (bl.BaselineError, MissingRecord):
        return None


STORE = pytest.StashKey[BaselineStore]()
OUTCOMES = pytest.StashKey[list]()
ROWS = pytest.StashKey[list]()  # claims-table rows from this process and, under xdist, from every worker
REDERIVED = pytest.StashKey[list]()  # verdicts that differ when re-derived from the run's records
COMPARED = pytest.StashKey[int]()  # how many of the run's verdicts were re-derived and compared
REMEASURE = pytest.StashKey[str]()  # sample or all (remeasure_mode)
SAMPLE = pytest.StashKey[tuple]()  # (stored accuracy cases, the AdaptSpecs made again) under sample
ENGINE = pytest.StashKey[object]()  # where runs go (repro/learn/engines.py): --executor
RUNS = pytest.StashKey[object]()  # the finished runs kept (repro/learn/runstore.py): --runs-dir, or None


def pytest_unconfigure(config):
    if ENGINE in config.stash:
        config.stash[ENGINE].close()  # a Ray instance started for this run ends with it


def pytest_sessionfinish(session):
    config = session.config
    rows = [o.row() for o in config.stash[OUTCOMES]]
    if hasattr(config, "workerinput"):  # an xdist worker: hand results to the controller
        config.workeroutput["claim_rows"] = rows
        config.workeroutput["new_baselines"] = dict(config.stash[STORE].new)
        config.workeroutput["seen"] = dict(config.stash[STORE].seen)
    else:
        config.stash[ROWS].extend(rows)
        # every verdict of this run must come back from the records it stores (results.json); a check
        # that read anything else would show here
        store, all_rows = config.stash[STORE], config.stash[ROWS]
        if all_rows:
            derived = verdicts.derive(RecordedEvidence(dict(store.seen), accuracy_data(config)))
            diffs = verdicts.differences(verdicts.recorded(derived), all_rows)
            # every verdict the run gave must come back, none may be dropped for want of a record
            lost = verdicts.unrecorded(derived, all_rows)
            diffs += [f"{label}: the run gave it, but its records do not hold what it read" for label in lost]
            config.stash[REDERIVED] = diffs
            config.stash[COMPARED] = len(all_rows) - len(lost)
            if diffs:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config, items):
    """--remeasure sample leaves the cases no claim reads (marked `full`) to --remeasure all."""
    if config.stash[REMEASURE] != "sample":
        return
    left = [i for i in items if i.get_closest_marker("full")]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [i for i in items if not i.get_closest_marker("full")]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect what a finished worker measured (claims rows, baselines to write)."""
    out = getattr(node, "workeroutput", {})
    node.config.stash[ROWS].extend(out.get("claim_rows", []))
    for group, cases in out.get("new_baselines", {}).items():
        node.config.stash[STORE].new[group].update(cases)
    for group, cases in out.get("seen", {}).items():
        node.config.stash[STORE].seen[group].update(cases)


@pytest.fixture(scope="session")
def baselines(pytestconfig):
    return pytestconfig.stash[STORE]


# Fewer analytic cases than this are profiled here, one by one: a worker takes ~15 s to start (torch,
# peft, galore-torch), a case 3-7 s, so two workers pay only from about this many (the default run's
# two smoke cases took 22 s side by side).
SIDE_BY_SIDE_FROM = 8


@pytest.fixture(scope="session")
def measure(request):
    """profile() memoised for the session: several tests read the same case. The first time an analytic
    case is asked for, every selected analytic case is profiled, one process per core (runs.profile_all):
    on fake tensors a case is Python dispatch on one core, and its integers are the same in any process.
    Under xdist the workers already share the cases out, so each profiles its own."""
    from repro.learn.runs import profile_all
    from repro.measure.profile import profile

    memo, pending = {}, selected_analytic_specs(request.session.items, request.config.getoption("--device"))

    def get(spec):
        if spec not in memo:
            if spec in pending and len(pending) >= SIDE_BY_SIDE_FROM and not os.environ.get("PYTEST_XDIST_WORKER"):
                batch = pending.copy()
                pending.clear()  # should the batch fail, each case then runs, and fails, in its own test
                with uncaptured(request.config):
                    memo.update(zip(batch, profile_all(batch, engine=request.config.stash[ENGINE]), strict=True))
            else:
                memo[spec] = profile(spec)
        return memo[spec]

    get.__wrapped__ = profile  # as functools.cache has it: a test re-measures a case past the memo
    return get


def selected_analytic_specs(items, device: str) -> list:
    """The analytic case specs that selected tests hand to `measure`, as the tests do (on `device`)."""
    specs = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "measure" in getattr(item, "fixturenames", ()) and "spec" in params and params["spec"].analytic:
            specs.append(dataclasses.replace(params["spec"], device=device))
    return list(dict.fromkeys(specs))


@pytest.fixture(scope="session")
def timings():
    """Step times against FFT (repro/measure/timing.py), each case timed once for the session."""
    from repro.measure.timing import timed_once

    return timed_once()


@pytest.fixture(scope="session")
def evidence(measure, timings, pytestconfig, request):
    stored = sample = deciding = None
    if pytestconfig.stash[REMEASURE] == "sample":
        try:
            stored, deciding, sample = sampled(pytestconfig)
        except (bl.BaselineError, MissingRecord) as err:
            pytest.fail(f"--remeasure sample cannot read the stored runs: {err}", pytrace=False)
    return MeasuredEvidence(measure, accuracy_data(pytestconfig), timings=timings,
                            device=pytestconfig.getoption("--device"),
                            cases=selected_accuracy_cases(request.session.items, deciding),
                            shown=lambda: uncaptured(pytestconfig),
                            record=pytestconfig.stash[STORE].keep, stored=stored, sample=sample,
                            engine=pytestconfig.stash[ENGINE], run_store=pytestconfig.stash[RUNS])


@contextlib.contextmanager
def uncaptured(config):
    """Where a long batch (the accuracy grid, the analytic cost cases) shows its progress bar. Each runs
    inside the first test that needs it, whose output pytest would otherwise hold back until the test
    ends: an hour of silence after a test file's name."""
    capman = config.pluginmanager.getplugin("capturemanager")  # None under -p no:capture
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        sys.stderr.write("\n")  # off the line pytest is writing its dots on
        yield


def selected_accuracy_cases(items, deciding: dict | None = None) -> frozenset | None:
    """The accuracy cases a run makes: only the selected ones when every selected test that reads the
    evidence is an accuracy case (`-k "[case]" --update-baselines` re-records a case without the whole
    grid), else all of them (a claim reads every case). Under --remeasure sample (`deciding`: claim id ->
    the cases its verdict rests on), the selected claims' deciding cases and the selected accuracy cases:
    `-k H-exact` makes H's two again, not the whole sample."""
    readers = [i for i in items if "evidence" in getattr(i, "fixturenames", ())]
    cases = {i.callspec.id for i in readers if getattr(i, "originalname", "") == "test_accuracy_matches_baseline"}
    if deciding is not None:
        from repro.verify.evidence import run_key

        claims = [i for i in readers if getattr(i, "originalname", "") == "test_claim"]
        if len(cases) + len(claims) == len(readers):
            return frozenset(cases | {run_key(*c) for i in claims for c in deciding.get(i.callspec.id, ())})
    if readers and len(cases) == len(readers):
        return frozenset(cases)
    return None


def accuracy_data(config) -> DataSpec:
    root = data_root(config.getoption("--data-root"))
    return DataSpec(data_root=str(root)) if root else DataSpec(benchmark=config.getoption("--benchmark"))


@pytest.fixture(scope="session")
def claim_outcomes(pytestconfig):
    return pytestconfig.stash[OUTCOMES]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    store = config.stash[STORE]
    if store.updating and store.new:
        failed = len(terminalreporter.stats.get("failed", [])) + len(terminalreporter.stats.get("error", []))
        if failed:
            terminalreporter.write_line(f"refusing to update baselines: {failed} test(s) failed for another "
                                        f"reason; fix them first", red=True)
        else:
            for group, cases in store.new.items():
                diff = bl.update(store.path(group), group, store.platform, store.environment, cases,
                                 store.reason)
                terminalreporter.write_sep("-", f"baseline {store.path(group)}: {len(cases)} cases written")
                terminalreporter.write_line(tabulate(diff, headers=["case", "metric", "old", "new"])
                                            if diff else "no metric changed")
    rows = sorted(config.stash[ROWS], key=lambda r: (r["id"], r["scale"]))
    reports = reports_dir(config.rootpath)
    if rows:
        terminalreporter.write_sep("=", "verdicts")
        terminalreporter.write_line(verdicts.terminal_tables(rows))
        write_text(reports / "claims.json", json.dumps(rows, indent=1) + "\n")
        write_text(reports / "claims.md", verdicts.markdown(rows))
        diffs = config.stash.get(REDERIVED, [])
        for line in diffs:
            terminalreporter.write_line(f"re-derived from the records, a verdict differs: {line}", red=True)
        if not diffs:
            terminalreporter.write_line(f"every verdict re-derives from the run's records (repro verdicts): "
                                        f"{config.stash.get(COMPARED, 0)} of {len(rows)} compared")
        terminalreporter.write_line(f"written: {reports / 'claims.md'}, {reports / 'claims.json'}")
    for line in store.mismatches():
        terminalreporter.write_line(line, yellow=True)
    if store.rule == "statistical" and any(g.startswith("accuracy") for g in store.seen):
        terminalreporter.write_line("accuracy was compared with its records by the statistical rule (stored means, "
                                    "3 standard errors), not seed by seed: this CPU does not reproduce the "
                                    "records under the kernel pin", yellow=True)
    if rows or config.getoption("--report"):
        from repro.show import report

        # the run's records, for `python -m repro report`; a run without claim checks keeps the last one's
        report.write_results(reports / "results.json", store.seen, rows, store.environment)
        terminalreporter.write_line(f"written: {reports / 'results.json'}")
    if config.getoption("--report"):
        inputs = report.load_inputs(reports / "results.json", store.root, store.platform)
        terminalreporter.write_line(f"report: {report.build(inputs, reports)}")
