"""The suite's pytest options, loaded by `-p repro.pytest_plugin` in pyproject's addopts.

Not in tests/conftest.py: pytest reads a conftest's options only once it has found the conftest, and
it looks for conftests along every argument that names an existing path, option values included, so
`pytest -m paper_claims --baselines-dir /some/folder` would not know --baselines-dir. A plugin named
with -p is loaded before the command line is parsed.
"""

from repro import engines, remeasure
from repro.specs import BENCHMARKS


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
                         "reproduce them under the pin (README): stored means within 3 standard errors")
    group.addoption("--executor", default=None,
                    help=f"where the runs, pretrainings and analytic cost cases go: {engines.CHOICES} (default: "
                         f"${engines.EXECUTOR_ENV}, else local, this machine's processes; README, Clusters)")
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
