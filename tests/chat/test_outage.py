"""Slack down (500), rate limiting (429 + Retry-After) and a revoked token never block the
portal; the outbox creates the channel once when Slack is back, with no duplicate channel or
message. The fake's answers follow https://docs.slack.dev/apis/web-api/rate-limits."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from chat import room
from chat.models import IncidentChannel, PageMessage
from incidents import services as incident_services
from notifications.models import Notification
from tests.chat.conftest import T0, drain


def _app_rows():
    return Notification.objects.filter(channel="app")


def test_outage_then_rate_limit_channel_created_once(world):
    slack = world["slack"]
    with time_machine.travel(T0, tick=True) as traveller:
        slack.fail(500, seconds=40)
        # the portal is not blocked: declaring and acknowledging work while Slack is down
        incident = incident_services.declare_incident(
            title="Checkout down", severity=1, services=[world["checkout"]], actor=world["ravi"]
        )
        incident_services.acknowledge(incident=incident, actor=world["alice"])
        drain()
        assert IncidentChannel.objects.get(incident=incident).status == "pending"
        assert room.panel(incident)["text"] == "Slack channel pending"
        assert _app_rows().filter(status="pending", last_status_code=500).exists()
        assert not slack.ok_calls("conversations.create")

        traveller.shift(timedelta(seconds=41))
        slack.fail(429, seconds=20, retry_after=20)  # then a minute in all: rate limited
        drain()
        limited = _app_rows().filter(status="pending", last_status_code=429)
        assert limited.exists()
        now = timezone.now()
        assert all(n.next_attempt_at >= now + timedelta(seconds=19) for n in limited)  # Retry-After honoured

        for _ in range(40):  # the workers keep going; Slack recovers after the minute
            traveller.shift(timedelta(seconds=15))
            drain()
        assert not _app_rows().exclude(status="sent").exists()

    creates = slack.ok_calls("conversations.create")
    assert len(creates) == 1
    channel = slack.channel_by_name(f"inc-{incident.number}-checkout-down")
    cards = [m for m in channel["messages"].values() if "Checkout down" in m["text"]]
    assert len(cards) == 1
    assert channel["pins"] == [cards[0]["ts"]]
    assert len(slack.ok_calls("pins.add")) == 1
    # one page message to alice, edited in place (acknowledged), never posted twice
    assert PageMessage.objects.count() == 1
    assert len(slack.channels["DUALICE"]["messages"]) == 1
    assert "Acknowledged by" in next(iter(slack.channels["DUALICE"]["messages"].values()))["text"]
    incident.refresh_from_db()
    assert incident.channel_url.endswith(channel["id"])
    assert room.panel(incident)["url"] == incident.channel_url


def test_revoked_token_retried_until_fixed(world, settings):
    slack = world["slack"]
    settings.SLACK_BOT_TOKEN = "xoxb-revoked"
    with time_machine.travel(T0, tick=True) as traveller:
        incident = incident_services.declare_incident(
            title="Search slow", severity=3, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
        row = _app_rows().get(payload__op="converge")
        assert row.status == "pending"
        assert "invalid_auth" in row.last_error
        settings.SLACK_BOT_TOKEN = slack.token  # an operator re-installs the app
        for _ in range(10):
            traveller.shift(timedelta(seconds=30))
            drain()
    assert IncidentChannel.objects.get(incident=incident).status == "active"
    assert len(slack.ok_calls("conversations.create")) == 1


def test_concurrent_steps_do_not_duplicate(world):
    """Every event enqueues its own converge step; however many run, one channel and one card."""
    slack = world["slack"]
    with time_machine.travel(T0, tick=True):
        slack.fail(503, seconds=5)
        incident = incident_services.declare_incident(
            title="Ledger lag", severity=3, services=[world["checkout"]], actor=world["ravi"]
        )
        incident_services.post_update(
            incident=incident, actor=world["ravi"], audience="internal", text="Looking"
        )
        incident_services.add_note(incident=incident, actor=world["ravi"], text="note")
        drain()
    with time_machine.travel(T0 + timedelta(minutes=30), tick=True):
        drain()
    assert _app_rows().filter(payload__op="converge").count() >= 3
    assert len(slack.ok_calls("conversations.create")) == 1
    channel = slack.channel_by_name(f"inc-{incident.number}-ledger-lag")
    texts = [m["text"] for m in channel["messages"].values()]
    assert sum("Looking" in t for t in texts) == 1
    assert sum("Ledger lag" in t for t in texts) == 1
