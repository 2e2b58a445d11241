"""A scratch results database per test module (on $PERFPIPE_DB_URL's server or the embedded one)."""

import pytest


@pytest.fixture(scope="module")
def scratch_dsn(scratch_db):
    return scratch_db("perfstore")
