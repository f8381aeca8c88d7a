"""Data for the source task and the adaptation scenarios, offline: one module per benchmark, each with
the same two functions, `source(spec)` and `scenario(name, spec)`, returning a Task.

* `digits` (digits.py), the default, which the claims run and the unit tests train on;
* `glyphs` (glyphs.py), harder: a 36-class source task and four target tasks, shift-easy, shift-hard,
  unseen-easy, unseen-hard;
* `real` (real.py): CIFAR-10, CIFAR-10-C and Visual Wake Words, when a data root points at a local copy.

A spec names its benchmark (DataSpec.benchmark), and a data root, given or in $REPRO_DATA_ROOT,
replaces it with real data; adding a benchmark is a module with those two functions and an entry below.
"""

from __future__ import annotations

from repro.case.specs import DataSpec, data_root
from repro.learn.data import digits, glyphs, real
from repro.learn.data.tasks import Split, Task  # noqa: F401 (what every benchmark returns)

BENCHMARKS = {"digits": digits, "glyphs": glyphs, "real": real}


def benchmark(spec: DataSpec):
    """The module that makes `spec`'s data."""
    return BENCHMARKS["real" if data_root(spec.data_root) is not None else spec.benchmark]


def source_task(spec: DataSpec) -> Task:
    return benchmark(spec).source(spec)


def scenario_task(scenario: str, spec: DataSpec) -> Task:
    if scenario not in spec.scenarios:
        raise ValueError(f"unknown scenario {scenario!r} for {spec.describe()}; valid scenarios: "
                         f"{', '.join(spec.scenarios)}")
    return benchmark(spec).scenario(scenario, spec)
