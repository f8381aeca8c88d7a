"""Finished adaptation runs on disk, one file per spec, so that a re-invocation makes only what is missing.

A run that finished is kept the moment its result reaches the driver, whatever happens to the others
(a killed worker, a lost node, Ctrl-C). A file's name hashes everything its numbers depend on: the
spec, its base model's cache key (model, data, recipe, torch, kernels), peft and galore-torch, and the
source of this package, so a changed line of code or library never mixes old runs into new ones.

    store = RunStore("/shared/runs")            # --runs-dir, or $REPRO_RUNS_DIR
    missing = [s for s in specs if store.get(s) is None]
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import tempfile
from pathlib import Path

from repro.files import write_text
from repro.learn.engines import RUNS_DIR_ENV
from repro.learn.training import AdaptResult, AdaptSpec


@functools.cache
def _code() -> dict:
    source = hashlib.sha256()
    package = Path(__file__).parents[1]  # all of repro/, not this folder
    for path in sorted(package.rglob("*.py")):
        source.update(str(path.relative_to(package)).encode() + path.read_bytes())
    versions = {}
    for dist in ("peft", "galore-torch", "transformers"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {"repro": source.hexdigest()[:16], **versions}


def run_id(spec: AdaptSpec) -> str:
    from repro.learn.zoo import cache_key

    blob = json.dumps({"spec": dataclasses.asdict(spec), "base": cache_key(spec.model, spec.data, spec.recipe),
                       **_code()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class RunStore:
    def __init__(self, folder):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"the runs folder {self.folder} is a file: point --runs-dir (${RUNS_DIR_ENV}) at a folder")
        try:  # now, not after the first run has trained for minutes and cannot be kept
            self.folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.folder).close()
        except OSError as err:
            raise ValueError(f"cannot write the runs folder {self.folder} ({err.strerror}): point --runs-dir "
                             f"(${RUNS_DIR_ENV}) at a folder you can write") from None

    def path(self, spec: AdaptSpec) -> Path:
        return self.folder / f"{spec.key}-seed{spec.seed}-{run_id(spec)}.json"

    def get(self, spec: AdaptSpec) -> AdaptResult | None:
        path = self.path(spec)
        if not path.exists():
            return None
        try:
            fields = json.loads(path.read_text())["result"]
            return AdaptResult(spec=spec, **{**fields, "curve": tuple(tuple(p) for p in fields["curve"])})
        except (ValueError, KeyError, TypeError):  # half a file cannot be (written atomically); a foreign one is remade
            return None

    def put(self, spec: AdaptSpec, result: AdaptResult) -> None:
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "spec"}
        write_text(self.path(spec), json.dumps({"spec": dataclasses.asdict(spec), "result": fields},
                                               indent=1, default=str))

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.json"))) if self.folder.is_dir() else 0
