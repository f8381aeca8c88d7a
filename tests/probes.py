"""A fresh interpreter that runs a command and says which heavy libraries it imported: for the tests of
the commands that must start without torch (test_cli.py, test_report.py). A module of its own, so that no
test module imports another.
"""

import subprocess
import sys

PROBE = ("import sys\nfrom repro.__main__ import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         "print('imported:', *sorted({'torch', 'peft', 'torchvision'} & set(sys.modules)))")


def without_torch(*args, cwd=None) -> subprocess.CompletedProcess:
    """`python -m repro *args`; its last line of output names those of torch, peft and torchvision it imported."""
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
