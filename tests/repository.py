"""What several test modules read of the repository's own configuration, in one place (a module of its
own, so that no test module imports another)."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tox_envs() -> set[str]:
    """The environments tox.ini defines: its testenv sections and its envlist."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    return {s.split(":", 1)[1] for s in ini.sections() if s.startswith("testenv:")} | {
        e.strip() for e in ini["tox"]["envlist"].split(",")}


def nested_pytest(*args, env: dict | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """pytest in a fresh process on this repository's configuration, with this process's environment less
    pytest's own (an xdist worker's PYTEST_XDIST_* would make the nested run think it is a worker: `pytest -n
    2` failed here) and `env` on top."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-c",
                           str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), *args],
                          cwd=ROOT, capture_output=True, text=True, env={**clean, **(env or {})}, timeout=timeout)
