"""Committed before any notification: with Redis (broker and rate-limit cache) unreachable,
filing still works; the escalation is in the database, and the dispatch auditor pages on-call
(or tells the team) once the broker is back - its notifications wait in the outbox, pending,
for the notifications redispatcher."""

import contextlib
import logging
from datetime import timedelta

import pytest

from escalations import services
from escalations.models import Escalation
from notifications.models import Notification
from opsportal.celery import app
from tests.escalations.factories import paged_service

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@contextlib.contextmanager
def broker_at(url: str):
    def reset():
        app._pool = None
        app.amqp._producer_pool = None

    original = app.conf.broker_url
    app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        app.conf.broker_url = original
        reset()


def _post(client, service, impact, caplog, capture):
    data = {
        "incident": "new", "customer": "acme-corp", "contact": "ops@acme.example", "service": str(service.pk),
        "summary": "Checkout down", "impact": impact, "customers_reporting": "1",
    }  # fmt: skip
    with broker_at(DEAD_REDIS), caplog.at_level(logging.WARNING), capture(execute=True) as callbacks:
        response = client.post("/support/escalate/", data)
    assert callbacks  # publishing ran after the commit
    return response


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.mark.django_db
def test_filing_survives_a_redis_outage(
    client, support_user, redis_down, caplog, django_capture_on_commit_callbacks
):
    service = paged_service(name="Checkout")
    client.force_login(support_user)
    response = _post(client, service, "question", caplog, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert "rate limit unavailable" in caplog.text  # the limit fails open
    assert "could not enqueue paging" in caplog.text  # the publish failed quietly
    escalation = Escalation.objects.get()
    assert escalation.dispatched_at is None  # committed, waiting for the auditor
    # The broker is back; the beat's dispatch auditor finds the filing past its grace period.
    later = escalation.created_at + services.DISPATCH_GRACE
    assert services.dispatch_overdue(now=later) == {escalation.pk: "team told"}
    assert Notification.objects.filter(
        event_key=f"escalations:{escalation.pk}:new", status="pending"
    ).exists()


@pytest.mark.django_db
def test_paged_filing_is_committed_before_the_broker_is_touched(
    client, support_user, redis_down, caplog, django_capture_on_commit_callbacks
):
    """The filing is committed first and only then handed to the broker; with the broker down
    that publish fails and is logged, the agent still gets their confirmation, and the
    dispatch auditor pages on-call once the filing has waited past the grace period - a
    broker outage delays the page, it never loses it."""
    service = paged_service(name="Checkout")
    client.force_login(support_user)
    response = _post(client, service, "blocked", caplog, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    escalation = Escalation.objects.get()
    assert escalation.page is None
    assert escalation.dispatched_at is None
    # within the grace period the auditor leaves it to its own task
    assert services.dispatch_overdue(now=escalation.created_at + timedelta(seconds=5)) == {}
    later = escalation.created_at + services.DISPATCH_GRACE
    assert services.dispatch_overdue(now=later) == {escalation.pk: "paged"}
    assert services.dispatch_overdue(now=later) == {}  # done once
    escalation.refresh_from_db()
    assert escalation.page is not None
    assert escalation.dispatched_at is not None
    assert Notification.objects.filter(kind="page", status="pending").count() == 1
