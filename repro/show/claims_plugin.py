"""This repository's own pytest plugin: the paper's claims, the accuracy grid, their records and the report.

Loaded by this repository's pyproject (`-p repro.show.claims_plugin`), never by the entry point, so a
project that merely has peft-edge-repro installed never sees these options or fixtures. It builds on the
public plugin (repro.show.pytest_plugin: the baseline store and --repro-*). What a run holds (its store,
engine, runs folder, sample, the claims' rows) lives in one ClaimsRun, made at configure; the hooks
hand off to it. Tests are found by their markers and fixtures, never by their names:

* `claim(key)`: a test that gives claim `key`'s verdict (tests/test_paper_claims.py);
* `accuracy_case(key)`: a test that holds accuracy case `key` to its record (tests/test_accuracy.py);
* `profiles(spec)`: a test that profiles `spec` through `measure` (tests/test_costs.py), so the analytic
  ones can be profiled side by side before the first of them runs.
"""

import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

from repro import kernels
from repro.case.groups import ACCURACY_GROUPS, ACCURACY_PREFIX, COUNTED, RECORD_GROUPS, TIME_GROUPS
from repro.case.protocol import ACCURACY_SEEDS, BENCHMARKS
from repro.case.specs import DataSpec, data_root
from repro.files import reports_dir, write_text
from repro.learn import engines
from repro.show.pytest_plugin import STORE, BaselineStore, share_cores
from repro.verify import baselines as bl
from repro.verify import remeasure, verdicts
from repro.verify.evidence import MeasuredEvidence, MissingRecord, RecordedEvidence

# the spellings of 0.1.0, kept for one release: old -> new (the public plugin owns the --repro-* ones)
RENAMED = {"--device": "--repro-device", "--benchmark": "--embedded-data", "--report": "--write-report",
           "--update-baselines": "--repro-update", "--baseline-reason": "--repro-reason",
           "--baselines-dir": "--repro-baselines-dir"}
MARKERS = ("claim(key): gives the verdict of the paper's claim `key` (read by the claims machinery)",
           "accuracy_case(key): holds the accuracy case `key` to its record",
           "profiles(spec): profiles the CaseSpec `spec` through the measure fixture")


def pytest_addoption(parser):
    group = parser.getgroup("repro-claims", "peft-edge-repro: the paper's claims (this repository's tests)")
    group.addoption("--embedded-data", default="glyphs", choices=BENCHMARKS,
                    help="the embedded data the accuracy grid and claims read (default: glyphs, the calibrated "
                         "benchmark; digits: the quick one the unit tests train on)")
    group.addoption("--data-root", default=None,
                    help="local CIFAR-10 / CIFAR-10-C / VWW copy (default: $REPRO_DATA_ROOT, else the embedded "
                         "data, --embedded-data)")
    group.addoption("--remeasure", choices=remeasure.MODES, default=None,
                    help="sample (the default): read the accuracy claims' runs from the stored records and make "
                         "one seed of each deciding case again, which must equal its record to the last digit; "
                         "all: make every run (the default with --repro-update, --data-root or "
                         "--accuracy-rule statistical)")
    group.addoption("--sample-seed", type=int, default=None,
                    help="the seed --remeasure sample makes again (default: the day's, turning through the seeds "
                         "one a day, UTC)")
    group.addoption("--accuracy-rule", choices=("exact", "statistical"), default="exact",
                    help="how trained numbers are compared with their records: exact, seed by seed (the kernel "
                         "pin makes them equal on every x86_64 CPU of a vendor), or statistical, for a CPU that does "
                         "not reproduce them under the pin (docs/kernel-pin.md): stored means within 3 standard errors")
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
    group.addoption("--write-report", action="store_true",
                    help="at the end, write the report (reports/index.md, .html, figures) from this run")
    for old, new in RENAMED.items():
        kind = ({"action": "store_true"} if old in ("--report", "--update-baselines")
                else {"choices": BENCHMARKS} if old == "--benchmark" else {})
        group.addoption(old, dest=deprecated_dest(old), default=None, help=f"deprecated: {new}", **kind)


def deprecated_dest(old: str) -> str:
    return "deprecated_" + old.lstrip("-").replace("-", "_")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Before the public plugin reads its options: the old spellings become the new, each saying so."""
    if not config.pluginmanager.has_plugin("repro"):
        raise pytest.UsageError("this repository's tests need the plugin of peft-edge-repro's entry point: "
                                "drop -p no:repro (or reinstall the package: pip install -e .)")
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    for old, new in RENAMED.items():
        value = getattr(config.option, deprecated_dest(old))
        if value is not None:
            setattr(config.option, new.lstrip("-").replace("-", "_"), value)
            config.issue_config_time_warning(pytest.PytestDeprecationWarning(
                f"{old} is deprecated and goes in the next release: use {new}"), stacklevel=2)
    try:
        config.stash[STORE] = SuiteStore(config)
        config.stash[RUN] = ClaimsRun(config)
    except (bl.BaselineError, ValueError) as err:  # one line, before anything runs
        raise pytest.UsageError(str(err)) from None
    share_cores()


SUITE_GROUPS = {*COUNTED, *TIME_GROUPS.values()}  # the suite's own baseline files (besides accuracy-*)


class SuiteStore(BaselineStore):
    """The baseline store of the suite's own groups: trained numbers are recorded per kernel set
    (repro/kernels.py), may be compared by the statistical rule, and are made again under a sample."""

    def __init__(self, config):
        super().__init__(config)
        self.rule = config.getoption("--accuracy-rule")

    def path(self, group) -> Path:
        own = super().path(group)
        if self.rule == "statistical" and not self.updating and not own.exists() and group in ACCURACY_GROUPS:
            return self.first(group)  # a kernel set with no records of its own is held to them, statistically
        return own

    def first(self, group) -> Path:
        """The first records of a trained group (AMD's kernel set, repro/kernels.py), whatever this CPU's."""
        return super().path(group).with_name(f"{group}.json")

    def other_way_out(self, group: str) -> str:
        """For a trained group whose kernel set has no file of its own (Intel's, repro/kernels.py) beside the
        first records (AMD's): hold its runs to those, statistically."""
        first = self.first(group)
        if group not in ACCURACY_GROUPS or first == self.path(group) or not first.exists():
            return ""
        return (f"; or, with no records of this CPU's kernel set ({kernels.kernel_set()}), hold its runs to "
                f"{first.name} statistically: --accuracy-rule statistical")

    def how_compared(self, group: str) -> list[str]:
        if self.rule == "statistical" and group.startswith("accuracy"):
            return ["(compared by the statistical rule, --accuracy-rule statistical, not seed by seed)"]
        return []

    def hint(self, group: str, case: str) -> str:
        """The suite's own form for its groups (their tests are marked and deselected by default)."""
        if group in SUITE_GROUPS or group.startswith(ACCURACY_PREFIX):
            return bl.update_hint(case)
        return super().hint(group, case)

    def check_again(self, group: str, case: str, seed: int, problems: list[str], hint: str) -> None:
        """A stored run made again (--remeasure sample): equal to its record in every reading, or the case
        fails with both values and the command that re-records it."""
        if problems:
            mismatch = self.mismatch(group)
            first = f"{self.path(group)} was {mismatch}\n" if mismatch else ""
            pytest.fail(f"{first}{case} seed {seed}, made again here, differs from its record in {self.path(group)}:"
                        f"\n  " + "\n  ".join(problems) + f"\nif the change is intended, re-record the case (every "
                        f"seed) and say why: {hint}\nif nothing changed, {kernels.not_reproduced()}", pytrace=False)

    def keep(self, group: str, case: str, metrics: dict) -> None:
        """A measurement the claims read, kept with the run's records (results.json) if no test stored it."""
        self.seen[group].setdefault(case, metrics)


class ClaimsRun:
    """One claims run: its store, engine and runs folder, what it samples, and the verdicts it gave."""

    def __init__(self, config):
        self.config = config
        self.store = config.stash[STORE]
        self.data = accuracy_data(config)
        self.remeasure = remeasure_mode(config)
        seed = config.getoption("--sample-seed")
        if seed is not None and seed not in ACCURACY_SEEDS:
            raise ValueError(f"--sample-seed {seed}: the records hold seeds {', '.join(map(str, ACCURACY_SEEDS))}")
        self.engine = engine_from(config)  # an unknown engine, or one whose extra is missing: ValueError
        folder = config.getoption("--runs-dir") or os.environ.get(engines.RUNS_DIR_ENV)
        if folder:
            from repro.learn.runstore import RunStore  # imports the training side, torch

            self.runs = RunStore(folder)
        else:
            self.runs = None
        self.outcomes = []  # this process's claim outcomes
        self.rows = []  # claims-table rows from this process and, under xdist, from every worker
        self.rederived = []  # verdicts that differ when re-derived from the run's records
        self.compared = 0  # how many of the run's verdicts were re-derived and compared
        self._sample = None

    def sampled(self) -> tuple[dict, dict, list]:
        """--remeasure sample, from the baseline files: (the data's stored accuracy cases, claim id -> the
        cases its verdict rests on, the runs made again). Raises BaselineError or MissingRecord, each naming
        the file and the fix."""
        if self._sample is None:
            stored = self.store.cases(self.data.group)
            records = {g: self.store.cases(g) for g in RECORD_GROUPS if self.store.path(g).exists()}
            deciding = remeasure.deciding_cases({**records, self.data.group: stored}, self.data)
            seed = self.config.getoption("--sample-seed")
            self._sample = stored, deciding, remeasure.sample_specs(
                deciding, self.data, remeasure.day_seed() if seed is None else seed)
        return self._sample

    def sample_keys(self) -> set | None:
        """The accuracy cases a sample makes again, or None: every case (--remeasure all, or no records to
        sample from, which the case's test then reports)."""
        if self.remeasure != "sample":
            return None
        try:
            return {s.key for s in self.sampled()[2]}
        except (bl.BaselineError, MissingRecord):
            return None

    def finish(self, session) -> None:
        """Every verdict of the run must come back from the records it stores (results.json): a check that
        read anything else would show here."""
        self.rows.extend(o.row() for o in self.outcomes)
        if not self.rows:
            return
        derived = verdicts.derive(RecordedEvidence(dict(self.store.seen), self.data))
        self.rederived = verdicts.differences(verdicts.recorded(derived), self.rows)
        # every verdict the run gave must come back, none may be dropped for want of a record
        lost = verdicts.unrecorded(derived, self.rows)
        self.rederived += [f"{label}: the run gave it, but its records do not hold what it read" for label in lost]
        self.compared = len(self.rows) - len(lost)
        if self.rederived:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary(self, terminalreporter) -> None:
        rows, store = sorted(self.rows, key=lambda r: (r["id"], r["scale"])), self.store
        reports = reports_dir(self.config.rootpath)
        if rows:
            terminalreporter.write_sep("=", "verdicts")
            terminalreporter.write_line(verdicts.terminal_tables(rows))
            write_text(reports / "claims.json", json.dumps(rows, indent=1) + "\n")
            write_text(reports / "claims.md", verdicts.markdown(rows))
            for line in self.rederived:
                terminalreporter.write_line(f"re-derived from the records, a verdict differs: {line}", red=True)
            if not self.rederived:
                terminalreporter.write_line(f"every verdict re-derives from the run's records (repro verdicts): "
                                            f"{self.compared} of {len(rows)} compared")
            terminalreporter.write_line(f"written: {reports / 'claims.md'}, {reports / 'claims.json'}")
        if store.rule == "statistical" and any(g.startswith("accuracy") for g in store.seen):
            terminalreporter.write_line("accuracy was compared with its records by the statistical rule (stored "
                                        "means, 3 standard errors), not seed by seed: this CPU does not reproduce "
                                        "the records under the kernel pin", yellow=True)
        report_asked = self.config.getoption("--write-report")
        if rows or report_asked:
            from repro.show import report

            # the run's records, for `python -m repro report`; a run without claim checks keeps the last one's
            report.write_results(reports / "results.json", store.seen, rows, store.environment)
            terminalreporter.write_line(f"written: {reports / 'results.json'}")
        if report_asked:
            inputs = report.load_inputs(reports / "results.json", store.root, store.platform)
            terminalreporter.write_line(f"report: {report.build(inputs, reports)}")


RUN = pytest.StashKey[ClaimsRun]()


def claims_run(config) -> ClaimsRun:
    return config.stash[RUN]


def engine_from(config):
    """The engine the options name (--executor and the --slurm-* options)."""
    slurm = engines.SlurmOptions(config.getoption("--slurm-partition"), config.getoption("--slurm-time-min"),
                                 config.getoption("--slurm-cpus-per-task"), config.getoption("--slurm-folder"),
                                 config.getoption("--slurm-runs-per-job"))
    return engines.make(config.getoption("--executor"), slurm=slurm)


def remeasure_mode(config) -> str:
    """--remeasure, resolved: sample unless this run must make every run (or was told to)."""
    fresh = [why for why, on in (("--repro-update records every run", config.getoption("--repro-update")),
                                 ("real data (--data-root) has no records", data_root(config.getoption("--data-root"))),
                                 ("--accuracy-rule statistical compares fresh means over every seed",
                                  config.getoption("--accuracy-rule") == "statistical")) if on]
    chosen = config.getoption("--remeasure")
    if chosen == "sample" and fresh:
        raise pytest.UsageError(f"--remeasure sample reads stored runs, but {fresh[0]}: use --remeasure all")
    return chosen or ("all" if fresh else "sample")


def accuracy_data(config) -> DataSpec:
    root = data_root(config.getoption("--data-root"))
    return DataSpec(data_root=str(root)) if root else DataSpec(benchmark=config.getoption("--embedded-data"))


def pytest_unconfigure(config):
    if RUN in config.stash:
        config.stash[RUN].engine.close()  # a Ray instance started for this run ends with it


def pytest_sessionfinish(session):
    run = claims_run(session.config)
    if hasattr(session.config, "workerinput"):  # an xdist worker: hand its rows to the controller
        session.config.workeroutput["claim_rows"] = [o.row() for o in run.outcomes]
    else:
        run.finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect a finished worker's claims rows (the public plugin collects its records)."""
    claims_run(node.config).rows.extend(getattr(node, "workeroutput", {}).get("claim_rows", []))


def pytest_collection_modifyitems(config, items):
    """--remeasure sample leaves the cases no claim reads (marked `full`) to --remeasure all."""
    if claims_run(config).remeasure != "sample":
        return
    left = [i for i in items if i.get_closest_marker("full")]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [i for i in items if not i.get_closest_marker("full")]


@pytest.hookimpl(trylast=True)  # after the public plugin's lines: the verdicts table ends the run
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not hasattr(config, "workerinput"):  # an xdist worker's part is the controller's to write
        claims_run(config).summary(terminalreporter)


@pytest.fixture(scope="session")
def baselines(pytestconfig):
    """The suite's baseline store (the public plugin's repro_baselines, with the suite's groups)."""
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

    memo = {}
    pending = selected_analytic_specs(request.session.items, request.config.getoption("--repro-device"))

    def get(spec):
        if spec not in memo:
            if spec in pending and len(pending) >= SIDE_BY_SIDE_FROM and not os.environ.get("PYTEST_XDIST_WORKER"):
                batch = pending.copy()
                pending.clear()  # should the batch fail, each case then runs, and fails, in its own test
                with uncaptured(request.config):
                    memo.update(zip(batch, profile_all(batch, engine=claims_run(request.config).engine), strict=True))
            else:
                memo[spec] = profile(spec)
        return memo[spec]

    get.__wrapped__ = profile  # as functools.cache has it: a test re-measures a case past the memo
    return get


def selected_analytic_specs(items, device: str) -> list:
    """The analytic case specs that selected tests profile through `measure` (marked profiles(spec)), on
    `device`."""
    specs = []
    for item in items:
        mark = item.get_closest_marker("profiles")
        if mark and "measure" in item.fixturenames and mark.args[0].analytic:
            specs.append(dataclasses.replace(mark.args[0], device=device))
    return list(dict.fromkeys(specs))


@pytest.fixture(scope="session")
def timings():
    """Step times against FFT (repro/measure/timing.py), each case timed once for the session."""
    from repro.measure.timing import timed_once

    return timed_once()


@pytest.fixture(scope="session")
def evidence(measure, timings, pytestconfig, request):
    run = claims_run(pytestconfig)
    stored = sample = deciding = None
    if run.remeasure == "sample":
        try:
            stored, deciding, sample = run.sampled()
        except (bl.BaselineError, MissingRecord) as err:
            pytest.fail(f"--remeasure sample cannot read the stored runs: {err}", pytrace=False)
    return MeasuredEvidence(measure, run.data, timings=timings, device=pytestconfig.getoption("--repro-device"),
                            cases=selected_accuracy_cases(request.session.items, deciding),
                            shown=lambda: uncaptured(pytestconfig), record=run.store.keep, stored=stored,
                            sample=sample, engine=run.engine, run_store=run.runs)


@pytest.fixture(scope="session")
def claim_outcomes(pytestconfig):
    return claims_run(pytestconfig).outcomes


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
    evidence is an accuracy case (`-k "[case]" --repro-update` re-records a case without the whole
    grid), else all of them (a claim reads every case). Under --remeasure sample (`deciding`: claim id ->
    the cases its verdict rests on), the selected claims' deciding cases and the selected accuracy cases:
    `-k H-exact` makes H's two again, not the whole sample."""
    readers = [i for i in items if "evidence" in i.fixturenames]
    cases = {m.args[0] for i in readers if (m := i.get_closest_marker("accuracy_case"))}
    if deciding is not None:
        from repro.verify.evidence import run_key

        claims = [m.args[0] for i in readers if (m := i.get_closest_marker("claim"))]
        if len(cases) + len(claims) == len(readers):
            return frozenset(cases | {run_key(*c) for key in claims for c in deciding.get(key, ())})
    if readers and len(cases) == len(readers):
        return frozenset(cases)
    return None
