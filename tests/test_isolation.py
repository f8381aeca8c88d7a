"""A test run keeps to folders of its own (tests/conftest.py): the user's base-model cache and the
repository's reports/ stay as they were."""

import platformdirs

from repro.files import reports_dir
from repro.learn.zoo import cache_dir


def test_a_test_pretrains_and_writes_its_reports_away_from_the_users_folders(tmp_path_factory):
    run_folders = tmp_path_factory.getbasetemp().parent  # an xdist worker's own folder is one level down
    assert reports_dir("/repository").is_relative_to(run_folders), reports_dir("/repository")
    assert not cache_dir().is_relative_to(platformdirs.user_cache_dir("peft-edge-repro")), cache_dir()
