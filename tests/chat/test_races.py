"""Two workers converging the same incident channel at once (real threads, PostgreSQL row
locks): one creates the channel, the other is told to come back; one channel, one card."""

from __future__ import annotations

import pytest

from chat import outbox, workspace
from chat.models import IncidentChannel
from incidents import services as incident_services
from tests.chat.conftest import drain
from tests.concurrency import raised, run_concurrently

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgresql,  # row locks need PostgreSQL; deselected on SQLite, always run in CI
]


def test_concurrent_converge_creates_one_channel(world):
    slack = world["slack"]
    incident = incident_services.declare_incident(
        title="Checkout down", severity=3, services=[world["checkout"]], actor=world["ravi"]
    )
    ws = workspace.SlackWorkspace()
    results = run_concurrently([lambda: outbox.converge(ws, incident_id=incident.pk) for _ in range(4)])
    assert not raised(results)
    busy = [r for r in results if r is not None]
    assert all(not r.ok and r.retry_after == 2 for r in busy)
    drain()
    assert len(slack.ok_calls("conversations.create")) == 1
    assert len(slack.ok_calls("pins.add")) == 1
    channel = slack.channel_by_name(f"inc-{incident.number}-checkout-down")
    assert len(channel["messages"]) == 1
    assert IncidentChannel.objects.get(incident=incident).status == "active"
