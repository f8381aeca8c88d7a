"""How long `python -m repro` takes to start for what needs no model (help, the names in `list`, reading
records), against importing torch and peft, which every one of them did before 2026-12-07: one process
per round."""

import subprocess
import sys

import pytest

REPRO = [sys.executable, "-m", "repro"]


@pytest.mark.parametrize("command", [[*REPRO, "--help"], [*REPRO, "verdicts", "--help"], [*REPRO, "report", "--help"],
                                     [*REPRO, "list"], [sys.executable, "-c", "import torch, peft"]],
                         ids=["help", "verdicts-help", "report-help", "list", "import-torch-and-peft"])
def test_start(benchmark, command):
    benchmark.pedantic(subprocess.run, args=(command,), kwargs={"capture_output": True, "check": True}, rounds=3,
                       iterations=1)
