"""The baseline groups: which records file (baselines/<platform>/<group>.json) holds what. Every module that
names a group takes it from here, torch-free."""

from repro.case.protocol import BENCHMARKS, PAPER_SIZE

COST_GROUPS = {"32px": "costs", f"{PAPER_SIZE}px": "costs-224px"}  # the cost cases each claims scale reads
TIME_GROUPS = {"32px": "times", f"{PAPER_SIZE}px": "times-224px"}  # measured step times (repro/measure/timing.py)
INPUTS_GROUP = "claim-inputs"  # what claims read beyond the grid: S1's adapters, S2's dropout case
BEYOND_GROUP = "costs-beyond"  # the cost grid of the models and methods the paper did not test
REAL_DATA_GROUP = "accuracy-real-data"
ACCURACY_PREFIX = "accuracy-"


def accuracy_group(benchmark: str | None) -> str:
    """The trained records of an embedded benchmark, or of real data (None)."""
    return REAL_DATA_GROUP if benchmark is None else f"{ACCURACY_PREFIX}{benchmark}"


def benchmark_of(group: str) -> str | None:
    """The embedded benchmark whose trained records `group` holds, or None (real data, or not trained)."""
    return group.removeprefix(ACCURACY_PREFIX) if group.startswith(ACCURACY_PREFIX) and group != REAL_DATA_GROUP \
        else None


ACCURACY_GROUPS = (*map(accuracy_group, BENCHMARKS), REAL_DATA_GROUP)  # trained: kept per kernel set
COUNTED = (*COST_GROUPS.values(), BEYOND_GROUP, INPUTS_GROUP)  # analytic: one file for every CPU platform
RECORD_GROUPS = (*COST_GROUPS.values(), INPUTS_GROUP, *TIME_GROUPS.values())  # what the cost claims and the report
# read besides the trained records (DataSpec.group)
