"""Writing files so that an interrupted run never leaves a half-written one behind."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

REPORTS_ENV = "REPRO_REPORTS_DIR"


def reports_dir(root: Path | str = ".") -> Path:
    """Where a claims run writes its tables and records and `repro report` reads them: $REPRO_REPORTS_DIR,
    else `reports` under `root` (the repository, for pytest; the working directory, for the CLI)."""
    return Path(os.environ.get(REPORTS_ENV) or Path(root) / "reports")


def slug(name: str) -> str:
    """`name` as part of a file name: a model named `package.module:factory` included."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def write_atomic(path: Path, write, mode: int = 0o644) -> None:
    """Call write(binary file) on a temp file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode()))
