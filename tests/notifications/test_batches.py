"""Batched delivery: one claim per chunk, dead destinations do not hold up the rest,
one broker message per chunk of a transaction's notifications."""

import time

import pytest
from django.core import mail
from django.db import transaction

from notifications import services, tasks
from notifications.models import Notification
from tests.factories import UserFactory
from tests.notifications.conftest import CONTEXT
from tests.notifications.factories import ContactMethodFactory, WebhookMethodFactory

pytestmark = pytest.mark.django_db


def _notify(recipients, key, kind="page"):
    return services.notify(
        recipients=recipients, kind=kind, template="generic", context=CONTEXT, idempotency_key=key
    )


def _webhook_user(url):
    method = WebhookMethodFactory(url=url)
    ContactMethodFactory(user=method.user, channel="email", enabled=False)  # webhook only
    return method.user


def test_one_transaction_publishes_once_in_chunks(settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.NOTIFICATIONS_BATCH_SIZE = 4
    published = []
    monkeypatch.setattr(
        tasks.deliver_many, "apply_async", lambda args, countdown=None: published.append(args[0])
    )
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: published.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for i in range(10):
            _notify([f"p{i}@example.com"], key=f"evt-{i}")
    assert len(callbacks) == 1  # one on-commit callback for the whole transaction
    assert [len(chunk) for chunk in published] == [4, 4, 2]
    assert sorted(pk for chunk in published for pk in chunk) == sorted(
        Notification.objects.values_list("pk", flat=True)
    )


def test_rolled_back_savepoint_does_not_swallow_later_notifications(
    django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: published.append(args[0]))
    monkeypatch.setattr(
        tasks.deliver_many, "apply_async", lambda args, countdown=None: published.extend(args[0])
    )
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _notify(["gone@example.com"], key="rolled-back")
                raise RuntimeError
        except RuntimeError:
            pass
        [kept] = _notify(["kept@example.com"], key="kept")
    assert published == [kept.pk]
    assert not Notification.objects.filter(address="gone@example.com").exists()


def test_deliver_many_sends_a_chunk_with_one_claim(httpserver, django_assert_max_num_queries):
    httpserver.expect_request("/hook").respond_with_data("ok")
    users = [_webhook_user(httpserver.url_for("/hook")) for _ in range(12)]
    ids = [r.pk for r in _notify(users, key="fanout")]
    assert len(ids) == 12
    # SET/RESET synchronous_commit, claim UPDATE, SELECT, and one UPDATE per 10 sent rows
    with django_assert_max_num_queries(7):
        result = tasks.deliver_many(ids)
    assert set(result.values()) == {"sent"}
    assert len(httpserver.log) == 12
    assert Notification.objects.filter(status="sent").count() == 12
    assert tasks.deliver_many(ids) == {}  # a redelivered chunk does nothing


def test_dead_destination_does_not_hold_up_the_others(httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    dead = [_webhook_user("http://127.0.0.1:9/dead") for _ in range(5)]  # connection refused
    alive = [_webhook_user(httpserver.url_for("/ok")) for _ in range(3)]
    rows = _notify([*dead, *alive, "ops@example.com"], key="mixed")
    started = time.monotonic()
    result = services.deliver_batch(notification_ids=[r.pk for r in rows])
    assert time.monotonic() - started < 5
    by_address = {r.address: r for r in Notification.objects.all()}
    assert all(n.status == "sent" for a, n in by_address.items() if "/ok" in a or a == "ops@example.com")
    dead_rows = Notification.objects.filter(address__contains="/dead")
    assert {n.status for n in dead_rows} == {"pending"}
    # only the first dead row used an attempt; the others were handed back untried
    assert sorted(n.attempts for n in dead_rows) == [0, 0, 0, 0, 1]
    assert len(mail.outbox) == 1
    assert len(httpserver.log) == 3
    assert list(result.values()).count("sent") == 4


def test_one_message_per_address_within_a_call():
    user = UserFactory(email="same@example.com")
    [row] = _notify([user, "Same@Example.com", "same@example.com"], key="k")
    assert row.recipient == user
    services.deliver_batch(notification_ids=[row.pk])
    assert len(mail.outbox) == 1
