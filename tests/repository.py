"""What several test modules read of the repository's own configuration, in one place (a module of its
own, so that no test module imports another)."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tox_envs() -> set[str]:
    """The environments tox.ini defines: its testenv sections and its envlist."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    return {s.split(":", 1)[1] for s in ini.sections() if s.startswith("testenv:")} | {
        e.strip() for e in ini["tox"]["envlist"].split(",")}
