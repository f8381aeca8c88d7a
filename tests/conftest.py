"""What the tests share: a base-model cache and a reports folder of the test run's own.

A test run leaves the user's cache and the repository as it found them. The tests that pretrain share one
temporary cache, so each base model is pretrained once per run (under xdist too: the workers' temporary
folders have one parent). The claims runs (`-m paper_claims`, `-m beyond_paper`, the accuracy grid) are
the main command itself: they keep the user's cache and write `reports/` on purpose. A REPRO_CACHE_DIR
that is set already (CI's empty one, or a developer's warm one) is left as it is.
"""

import os

import pytest

from repro.files import REPORTS_ENV
from repro.learn.zoo import CACHE_ENV

MAIN_COMMAND = ("paper_claims", "beyond_paper", "accuracy")


@pytest.fixture(scope="session")
def scratch(tmp_path_factory, pytestconfig):
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(pytestconfig, "workerinput") else base  # an xdist worker's is one level down


@pytest.fixture(autouse=True)
def _own_cache_and_reports(request, monkeypatch, scratch):
    if any(request.node.get_closest_marker(m) for m in MAIN_COMMAND):
        return
    if not os.environ.get(CACHE_ENV):
        monkeypatch.setenv(CACHE_ENV, str(scratch / "cache"))
    monkeypatch.setenv(REPORTS_ENV, str(scratch / "reports"))
