import uuid

import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters(settings):
    """Each test counts its own submissions: user ids repeat across tests (SQLite reuses
    them after a rollback), and the limit's counters live in Redis for a minute."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl-test-{uuid.uuid4().hex}:"


@pytest.fixture
def purge_broker():
    """Transactional tests really commit, so their deliveries and escalation steps reach the
    test Redis broker; drop them afterwards so a later test's worker does not process
    messages about rows that no longer exist."""
    yield
    from opsportal.celery import app

    app.control.purge()
