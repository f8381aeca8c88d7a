"""The public pytest plugin: hold your own model's update costs against baseline files in your own tree.

Installed with the package as the pytest11 entry point `repro`, so it is loaded in every pytest run of an
environment that has peft-edge-repro; it therefore owns only names that cannot be mistaken for a
project's own (every option `--repro-*`, every fixture `repro_*`) and does nothing until a test asks for
one of its fixtures: no torch import, no file written, no line printed. `-p no:repro` turns it off.

* `repro_measure(spec)` profiles one CaseSpec (FLOPs, memory, parameters), memoised for the session;
* `repro_baselines.check(group, case, metrics)` compares metrics with
  <rootdir>/baselines/<platform>/<group>.json (or --repro-baselines-dir), failing with the metric, both
  values and the command that re-records it;
* `pytest --repro-update --repro-reason "why"` writes the measured metrics instead, keeping the reason in
  the file's history.

This repository's own tests (the paper's claims, the accuracy grid, the report) add a second plugin,
repro.show.claims_plugin, loaded from its pyproject only. A plugin, not a conftest: pytest reads a
conftest's options only once it has found the conftest, so `--repro-baselines-dir /some/folder` would
not be known on the command line.
"""

import functools
import os
from collections import defaultdict
from pathlib import Path

import pytest

OPTIONS = ("--repro-update", "--repro-reason", "--repro-baselines-dir", "--repro-device")


def pytest_addoption(parser):
    group = parser.getgroup("repro", "peft-edge-repro: update costs against baseline files")
    group.addoption("--repro-update", action="store_true",
                    help="write what the repro_baselines checks measured to baselines/<platform>/*.json instead of "
                         "comparing (only when every test passed)")
    group.addoption("--repro-reason", default="",
                    help="why the numbers move (required with --repro-update; kept in the file's history)")
    group.addoption("--repro-baselines-dir", default=None, help="where the baseline files are (default: "
                                                                "<rootdir>/baselines)")
    group.addoption("--repro-device", default="cpu", help="where repro_measure profiles (cpu, cuda; default: cpu)")


class BaselineStore:
    """Compares measured metrics with baselines/<platform>/<group>.json, or collects them to write.

    The run's one object: the fixtures, the xdist hand-off and the summary at the end all go through it."""

    rule = "exact"  # how metrics are compared (repro.verify.baselines.compare); the claims plugin may relax it

    def __init__(self, config):
        from repro.verify import baselines as bl

        self.root = Path(config.getoption("--repro-baselines-dir") or config.rootpath / "baselines")
        self.device = config.getoption("--repro-device")
        self.platform = bl.platform_name(self.device)
        self.updating = config.getoption("--repro-update")
        self.reason = config.getoption("--repro-reason")
        self.loaded = {}
        self.new = defaultdict(dict)  # group -> case -> metrics to write (--repro-update)
        self.seen = defaultdict(dict)  # group -> case -> metrics measured in this run

    def path(self, group) -> Path:
        from repro.verify import baselines as bl

        return bl.path(self.root, self.platform, group, self.device)

    def _load(self, group):
        from repro.verify import baselines as bl

        if group not in self.loaded:
            try:
                self.loaded[group] = bl.load(self.path(group))
            except bl.BaselineError as err:
                self.loaded[group] = err
        if isinstance(self.loaded[group], Exception):
            raise self.loaded[group]
        return self.loaded[group]

    def check(self, group: str, case: str, metrics: dict) -> None:
        from repro.verify import baselines as bl

        self.seen[group][case] = metrics
        if self.updating:
            self.new[group][case] = metrics
            return
        if not self.path(group).exists():
            pytest.fail(f"no baseline file {self.path(group)} (case {case}); record it with: {self.hint(group, case)}"
                        + self.other_way_out(group), pytrace=False)
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
        if problems:
            problems += self.how_compared(group)
            # a different torch or peft explains a wall of diffs at once, so it is said first
            mismatch = self.mismatch(group)
            first = f"{self.path(group)} was {mismatch}\n" if mismatch else ""
            pytest.fail(f"{first}{case} differs from {self.path(group)}:\n  " + "\n  ".join(problems)
                        + f"\nif the change is intended, re-record it and say why: {self.hint(group, case)}",
                        pytrace=False)

    def other_way_out(self, group: str) -> str:
        """Besides recording it, what a missing file leaves a user (none here)."""
        return ""

    def how_compared(self, group: str) -> list[str]:
        """Lines after a failed comparison that say by which rule it was made (none here: exactly)."""
        return []

    def hint(self, group: str, case: str) -> str:
        """The command that re-records `case`: the running test, by its node id."""
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        return f'pytest {f"{test!r} " if test else ""}--repro-update --repro-reason "<why>"'

    def cases(self, group: str) -> dict:
        """A group's stored cases (BaselineError names the file and the fix)."""
        return self._load(group)["cases"]

    def mismatch(self, group) -> str | None:
        from repro.verify import baselines as bl

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

    def write(self, terminalreporter) -> None:
        """--repro-update, at the end: every measured group written, or none if a test failed."""
        from tabulate import tabulate

        from repro.verify import baselines as bl

        failed = len(terminalreporter.stats.get("failed", [])) + len(terminalreporter.stats.get("error", []))
        if failed:
            terminalreporter.write_line(f"refusing to update baselines: {failed} test(s) failed for another "
                                        f"reason; fix them first", red=True)
            return
        for group, cases in self.new.items():
            diff = bl.update(self.path(group), group, self.platform, self.environment, cases, self.reason)
            terminalreporter.write_sep("-", f"baseline {self.path(group)}: {len(cases)} cases written")
            terminalreporter.write_line(tabulate(diff, headers=["case", "metric", "old", "new"])
                                        if diff else "no metric changed")


STORE = pytest.StashKey[BaselineStore]()


def store(config) -> BaselineStore:
    """The run's store, made the first time it is asked for (the claims plugin makes its own kind first)."""
    if STORE not in config.stash:
        from repro.verify.baselines import BaselineError

        try:
            config.stash[STORE] = BaselineStore(config)
        except BaselineError as err:  # e.g. a $REPRO_PLATFORM that is a path
            pytest.fail(str(err), pytrace=False)
    return config.stash[STORE]


def pytest_configure(config):
    # the only checks made before a test asks: of options that only a user of this plugin passes
    if config.getoption("--repro-update") and not config.getoption("--repro-reason").strip():
        raise pytest.UsageError('--repro-update needs --repro-reason "which change moved which metric"')
    if config.getoption("--repro-device") != "cpu":  # --repro-device cuda on a machine without one: one line
        from repro.measure.profile import check_device

        try:
            check_device(config.getoption("--repro-device"))
        except ValueError as err:
            raise pytest.UsageError(str(err)) from None


def share_cores() -> None:
    """Under xdist, each worker its share of the cores: oversubscribed OpenMP threads spin and slow
    everyone tenfold."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        from repro.learn.engines import cores

        torch.set_num_threads(max(1, cores() // int(workers)))


@pytest.fixture(scope="session")
def repro_baselines(pytestconfig):
    """The baseline files: `repro_baselines.check(group, case, metrics)`."""
    return store(pytestconfig)


@pytest.fixture(scope="session")
def repro_measure():
    """`repro_measure(spec)`: one CaseSpec profiled (repro.measure.profile.profile), memoised for the session."""
    from repro.measure.profile import profile

    share_cores()
    return functools.cache(profile)


def pytest_sessionfinish(session):
    config = session.config
    if STORE in config.stash and hasattr(config, "workerinput"):  # an xdist worker: hand results to the controller
        config.workeroutput["repro_new_baselines"] = dict(config.stash[STORE].new)
        config.workeroutput["repro_seen"] = dict(config.stash[STORE].seen)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect what a finished worker measured."""
    out = getattr(node, "workeroutput", {})
    if "repro_new_baselines" in out:
        kept = store(node.config)
        for group, cases in out["repro_new_baselines"].items():
            kept.new[group].update(cases)
        for group, cases in out["repro_seen"].items():
            kept.seen[group].update(cases)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # an xdist worker knows its own tests' failures only: the controller writes, once, after every worker
    if STORE not in config.stash or hasattr(config, "workerinput"):
        return
    kept = config.stash[STORE]
    if kept.updating and kept.new:
        kept.write(terminalreporter)
    for line in kept.mismatches():
        terminalreporter.write_line(line, yellow=True)
