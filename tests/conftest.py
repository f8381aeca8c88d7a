import functools
import logging

import pytest

from repro.profile import profile

logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def measure():
    """profile() memoised for the session: several tests read the same case."""
    return functools.cache(profile)
