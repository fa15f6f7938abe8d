"""What every test shares."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only():
    """The secrets a test's runs learn (a DSN's password, a token read from a file) are
    scrubbed process-wide from every message shown afterwards: forgotten when the test
    ends, so that one test's secret (a word, a letter) never rewrites another's messages."""
    from targetsync_core import dsn
    saved = set(dsn._SECRETS)
    yield
    dsn._SECRETS.clear()
    dsn._SECRETS.update(saved)
