"""A Slack/webhook request has a total deadline below the delivery lease (defect 20).

The receivers trickle their answer one byte at a time: every single read is quick, so a
per-read timeout never fires, and only a deadline for the whole request ends it. A receiver
whose status line never completes has not answered: the row is retried later. One that said
200 and then trickles its body has accepted the message: it is sent (a retry would deliver
it twice), and the connection is dropped at the deadline all the same.
"""

import time

import pytest

from notifications import services, tasks
from tests.concurrency import run_concurrently
from tests.notifications.conftest import CONTEXT, only_channel
from tests.notifications.factories import SlackMethodFactory, WebhookMethodFactory
from tests.receivers import trickling_body, trickling_status

MARGIN = 1.0  # seconds allowed past the deadline for the worker's own bookkeeping


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 600  # the retry is never due within a test
    return settings


def _row(user, channel, key="evt"):
    rows = services.notify(
        recipients=[user], kind="page", template="generic", context=CONTEXT, idempotency_key=key
    )
    return only_channel(rows, channel)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trickle", "outcome"),
    [(trickling_status, "pending"), (trickling_body, "sent")],
    ids=["status-line", "body"],
)
@pytest.mark.parametrize(
    ("channel", "factory"), [("webhook", WebhookMethodFactory), ("slack", SlackMethodFactory)]
)
def test_a_trickling_answer_is_cut_at_the_total_deadline(
    loopback_allowed, make_receiver, trickle, outcome, channel, factory
):
    loopback_allowed.NOTIFICATIONS_HTTP_TIMEOUT = 1.5
    receiver = make_receiver(trickle, interval=0.3, trickle_for=20)
    row = _row(factory(url=receiver.url()).user, channel)

    started = time.monotonic()
    result = tasks.deliver(row.pk)
    elapsed = time.monotonic() - started

    assert elapsed < 1.5 + MARGIN, f"the request ran {elapsed:.1f} s, its deadline is 1.5 s"
    assert result == outcome
    row.refresh_from_db()
    assert (row.status, row.attempts) == (outcome, 1)
    if outcome == "pending":
        assert row.last_error == "timeout: no complete answer within 1.5 s", row.last_error
    else:
        assert row.last_status_code == 200
    assert receiver.count == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("trickle", "outcome"),
    [(trickling_status, "pending"), (trickling_body, "sent")],
    ids=["status-line", "body"],
)
def test_a_receiver_trickling_one_byte_every_2_s_is_not_sent_twice(
    loopback_allowed, make_receiver, trickle, outcome
):
    """Two delivery workers: the first sends to a receiver that answers one byte every 2 s;
    the second tries to claim the row as soon as the first one's lease has run out. Before
    the total deadline, the first request was still open then and the row went out twice."""
    loopback_allowed.NOTIFICATIONS_HTTP_TIMEOUT = 3
    # A one-row claim is leased 5 + (3 + 1) = 9 s; the worker starts a row only while at
    # least the HTTP timeout + 5 s of its lease are left.
    loopback_allowed.NOTIFICATIONS_LEASE_SECONDS = 5
    receiver = make_receiver(trickle, interval=2, trickle_for=25)
    row = _row(WebhookMethodFactory(url=receiver.url()).user, "webhook", key="trickle")
    lease = services.lease_seconds() + 1 * (services._http_timeout() + 1)
    timings = {}

    def first_worker():
        started = time.monotonic()
        try:
            return services.deliver(notification_id=row.pk)
        finally:
            timings["first"] = time.monotonic() - started

    def second_worker():
        time.sleep(lease + 0.5)  # the first worker's lease has expired by now
        return services.deliver(notification_id=row.pk)

    first, second = run_concurrently([first_worker, second_worker], timeout=60)

    assert receiver.count == 1, f"the receiver got {receiver.count} requests for one message"
    assert timings["first"] < 3 + MARGIN, f"the first request ran {timings['first']:.1f} s (deadline 3 s)"
    assert (first, second) == (outcome, "skipped")
    row.refresh_from_db()
    assert (row.status, row.attempts) == (outcome, 1)
