"""A stored claim case's runs made again through an engine and held to their records by the claim test
itself, in a fresh pytest: how tests/test_engines.py and tests/test_ray_cluster.py show that an engine makes
the records' numbers. A module of its own, so that no test module imports another."""

import subprocess

from repository import nested_pytest

# digits: its MobileNetV2 base model pretrains in about a minute on one core, then five runs of ~15 s each
CASE = ("--embedded-data", "digits", "-k", "accuracy_matches_baseline and mobilenet_v2-lora-r8-shift")


def made_on(executor: str, cache) -> subprocess.CompletedProcess:
    """The case's five runs made on `executor` (--remeasure all: none read from the stored records) with the
    base-model cache `cache`, which the caller leaves empty so that the base model is pretrained as a job."""
    return nested_pytest("-m", "paper_claims", "--remeasure", "all", "--executor", executor, *CASE,
                         env={"REPRO_CACHE_DIR": str(cache)}, timeout=900)


def equals_its_records(done: subprocess.CompletedProcess) -> bool:
    return done.returncode == 0 and "1 passed" in done.stdout.splitlines()[-1]
