"""Committed before any notification: with Redis (broker and rate-limit cache) unreachable,
filing still works; the escalation, its page and its notifications are in the database,
pending, for the notifications redispatcher to send once the broker is back."""

import contextlib
import logging

import pytest

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
    assert "could not enqueue delivery" in caplog.text  # the publish failed quietly
    escalation = Escalation.objects.get()
    assert Notification.objects.filter(
        event_key=f"escalations:{escalation.pk}:new", status="pending"
    ).exists()


@pytest.mark.django_db
def test_paged_filing_is_committed_before_the_broker_is_touched(
    client, support_user, redis_down, caplog, django_capture_on_commit_callbacks
):
    """The page's escalation step is published by oncall after commit; with the broker down
    that publish fails and is logged (the beat auditor resumes the page), the agent still gets
    their confirmation, and everything was committed first: the escalation, its page, the
    pending page messages."""
    service = paged_service(name="Checkout")
    client.force_login(support_user)
    _post(client, service, "blocked", caplog, django_capture_on_commit_callbacks)
    escalation = Escalation.objects.get()
    assert escalation.page is not None
    assert Notification.objects.filter(kind="page", status="pending").exists()
