"""How long `python -m repro` takes to start for what needs no model (help, reading records), against
a command that builds one's registry (`list` imports torch and peft): one process per round."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [["--help"], ["verdicts", "--help"], ["report", "--help"], ["list"]],
                         ids=["help", "verdicts-help", "report-help", "list"])
def test_start(benchmark, args):
    benchmark.pedantic(subprocess.run, args=([sys.executable, "-m", "repro", *args],),
                       kwargs={"capture_output": True, "check": True}, rounds=3, iterations=1)
