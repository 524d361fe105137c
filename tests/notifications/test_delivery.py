"""Delivery through real local HTTP servers: signatures, Slack layout, retries, failures."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from werkzeug import Response

from notifications import services, signing, tasks
from notifications.models import Notification
from tests.notifications.conftest import CONTEXT, only_channel
from tests.notifications.factories import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def _notify(recipients, key="evt", kind="page", context=CONTEXT):
    return services.notify(
        recipients=recipients, kind=kind, template="generic", context=context, idempotency_key=key
    )


def _webhook_row(user, key="evt"):
    return only_channel(_notify([user], key=key), "webhook")


def _received(httpserver):
    return [req for req, _ in httpserver.log]


def test_webhook_signature_verifies_with_an_independent_hmac(httpserver, webhook_user, settings):
    settings.SITE_URL = "https://ops.example.com"
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    row = _webhook_row(webhook_user)

    assert tasks.deliver(row.pk) == "sent"

    [request] = _received(httpserver)
    raw = request.get_data()
    header = request.headers["X-OpsPortal-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    assert abs(int(parts["t"]) - time.time()) < 60
    expected = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    # tampering with the body or replaying an old timestamp is detectable
    assert signing.verify(WEBHOOK_SECRET, raw, header)
    assert not signing.verify(WEBHOOK_SECRET, raw + b" ", header)
    assert not signing.verify("wrong-secret-xxxxxxxx", raw, header)
    old = signing.sign(WEBHOOK_SECRET, raw, timestamp=int(time.time()) - 3600)
    assert not signing.verify(WEBHOOK_SECRET, raw, old)

    body = json.loads(raw)
    assert body["title"] == "Checkout is down"
    assert body["url"] == "https://ops.example.com/admin/incidents/incident/7/"
    assert body["severity"] == "SEV-1"
    assert body["fields"] == [
        {"label": "Service", "value": "checkout"},
        {"label": "Commander", "value": "Maya"},
    ]
    assert body["id"] == row.idempotency_key == request.headers["X-OpsPortal-Delivery"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("sent", 1, 200)
    assert row.sent_at is not None


def test_slack_blocks_carry_severity_title_fields_and_links(httpserver, slack_user, settings):
    settings.SITE_URL = "https://ops.example.com"
    httpserver.expect_request("/services/T0/B0/secret", method="POST").respond_with_data("ok")
    row = only_channel(_notify([slack_user]), "slack")

    assert tasks.deliver(row.pk) == "sent"

    message = json.loads(_received(httpserver)[0].get_data())
    assert message["text"] == "[SEV-1] Checkout is down"
    blocks = {b["type"]: b for b in message["blocks"]}
    assert blocks["header"]["text"]["text"] == "SEV-1 · Checkout is down"
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    field_texts = [f["text"] for s in sections for f in s.get("fields", [])]
    assert any("SEV-1" in t for t in field_texts)
    assert "*Service*\ncheckout" in field_texts
    buttons = [(e["text"]["text"], e["url"]) for e in blocks["actions"]["elements"]]
    assert buttons == [
        ("Open in Ops Portal", "https://ops.example.com/admin/incidents/incident/7/"),
        ("Acknowledge", "https://ops.example.com/oncall/pages/7/ack/"),
    ]


def test_email_goes_through_djangos_backend():
    [row] = _notify(["oncall@example.com"])
    assert tasks.deliver(row.pk) == "sent"
    [message] = mail.outbox
    assert message.to == ["oncall@example.com"]
    assert message.subject == "[SEV-1] Checkout is down"
    assert "Service: checkout" in message.body


def test_500_then_200_is_delivered_once_after_a_retry(httpserver, webhook_user):
    httpserver.expect_ordered_request("/hook").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=200)
    row = _webhook_row(webhook_user)

    assert tasks.deliver(row.pk) == "pending"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500" in row.last_error
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=5)  # backoff, not a hot loop
    assert tasks.deliver(row.pk) == "skipped"  # not due yet: no retry storm

    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        assert tasks.deliver(row.pk) == "sent"
        assert tasks.deliver(row.pk) == "skipped"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(_received(httpserver)) == 2
    httpserver.check_assertions()


def test_429_honours_retry_after(httpserver, webhook_user):
    httpserver.expect_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    row = _webhook_row(webhook_user)
    before = timezone.now()
    assert tasks.deliver(row.pk) == "pending"
    row.refresh_from_db()
    assert before + timedelta(seconds=119) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=121)


def test_400_fails_at_once_with_the_error_and_no_retry(httpserver, webhook_user):
    httpserver.expect_request("/hook").respond_with_data("invalid_payload", status=400)
    row = _webhook_row(webhook_user)
    assert tasks.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 400)
    assert "HTTP 400: invalid_payload" in row.last_error
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert tasks.deliver(row.pk) == "skipped"
        assert row.pk not in services.due_for_redispatch(grace_seconds=0)
    assert len(_received(httpserver)) == 1


def test_timeout_is_transient(httpserver, webhook_user, settings):
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 0.3

    def slow(request):
        time.sleep(1)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    row = _webhook_row(webhook_user)
    started = time.monotonic()
    assert tasks.deliver(row.pk) == "pending"
    assert time.monotonic() - started < 0.9
    row.refresh_from_db()
    assert "timeout" in row.last_error
    deadline = time.monotonic() + 5  # let the slow handler finish so it cannot leak into the next test
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_connection_refused_is_transient(webhook_user):
    method = webhook_user.contact_methods.get()
    method.url = "http://127.0.0.1:9/hook"
    method.save()
    row = _webhook_row(webhook_user)
    assert tasks.deliver(row.pk) == "pending"
    row.refresh_from_db()
    assert "connection error" in row.last_error


def test_gives_up_after_max_attempts(httpserver, webhook_user, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    row = _webhook_row(webhook_user)
    now = timezone.now()
    for attempt in range(3):
        with time_machine.travel(now + timedelta(hours=attempt + 1)):
            tasks.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "failed"
    assert row.last_error.startswith("gave up after 3 attempts")
    assert len(_received(httpserver)) == 3


def test_same_event_twice_one_row_one_delivery(httpserver, webhook_user):
    httpserver.expect_request("/hook").respond_with_data("ok")
    first = _webhook_row(webhook_user, key="incident-7-paged")
    second = _webhook_row(webhook_user, key="incident-7-paged")
    assert first.pk == second.pk
    # the task is redelivered by the broker: the second run finds nothing to do
    assert tasks.deliver(first.pk) == "sent"
    assert tasks.deliver(first.pk) == "skipped"
    assert Notification.objects.filter(channel="webhook").count() == 1
    assert len(_received(httpserver)) == 1


def test_sending_row_of_a_dead_worker_is_reclaimed_after_the_lease(httpserver, webhook_user, settings):
    settings.NOTIFICATIONS_LEASE_SECONDS = 60
    httpserver.expect_request("/hook").respond_with_data("ok")
    row = _webhook_row(webhook_user)
    [dead] = services.claim(notification_ids=[row.pk])  # the worker dies right after claiming

    assert tasks.deliver(row.pk) == "skipped"  # lease still valid
    assert row.pk not in services.due_for_redispatch(grace_seconds=0)
    with time_machine.travel(dead.lease_expires_at + timedelta(seconds=1)):
        assert row.pk in services.due_for_redispatch(grace_seconds=0)
        assert tasks.deliver(row.pk) == "sent"
    # the late original worker cannot overwrite the outcome
    assert services.mark_failed(notification=dead, error="late") is False
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(_received(httpserver)) == 1


def test_removed_webhook_method_fails_permanently(webhook_user):
    row = _webhook_row(webhook_user)
    webhook_user.contact_methods.all().delete()
    assert tasks.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert "removed" in row.last_error


def test_redispatch_waits_for_the_grace_period():
    [row] = _notify(["a@example.com"])
    assert services.due_for_redispatch(grace_seconds=30) == []
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert services.due_for_redispatch(grace_seconds=30) == [row.pk]
