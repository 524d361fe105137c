import itertools
import os

import pytest
from django.test import Client

_addresses = itertools.count(1)


@pytest.fixture
def client():
    """A visitor with its own address: rate-limit counters (in Redis, shared by the run)
    never carry over between tests."""
    n = next(_addresses)
    return Client(REMOTE_ADDR=f"10.{os.getpid() % 250}.{n // 250}.{n % 250 + 1}")


@pytest.fixture(autouse=True)
def _fresh_status_cache(request):
    """Each test sees its own database: start from a new cache version."""
    from status import cache

    cache.invalidate()
    yield
    cache.invalidate()


@pytest.fixture(autouse=True)
def _severities(request):
    """The seeded severity levels, even after a transactional test flushed the tables."""
    if "django_db" not in {m.name for m in request.node.iter_markers()}:
        return
    request.getfixturevalue("_django_db_helper")
    from incidents.defaults import ensure_severities

    ensure_severities()
