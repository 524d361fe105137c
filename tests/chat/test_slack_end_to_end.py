"""End to end against the Slack fake (tests/chat/fake_slack.py names the Slack method pages the
shapes come from; tests/chat/conftest.py the slash-command and interaction payload pages):

- ``/incident declare`` -> modal -> incident + channel + invites + pinned card, link filled;
- a page with buttons -> Acknowledge click -> page and incident acknowledged, message updated;
- a channel message added to the timeline appears in the postmortem prefill;
- the on-call user group follows a handoff.
"""

from __future__ import annotations

import json
from datetime import timedelta

import time_machine

from chat import services as chat_services
from chat.models import IncidentChannel, PageMessage
from incidents import services as incident_services
from incidents.models import Incident
from oncall.models import Page
from postmortems import prefill
from tests.chat.conftest import (
    T0,
    block_action,
    drain,
    interact,
    message_shortcut,
    run_inbound,
    sign,
    slash,
    view_submission,
)


def declare_from_slack(client, slack, world, *, title="Checkout down", severity=1):
    response = slash(client, slack, user_id="URAVI", text=f"declare {title}")
    assert response.status_code == 200
    [modal] = slack.views
    assert modal["callback_id"] == "declare"
    assert modal["blocks"][0]["element"]["initial_value"] == title
    answer = interact(
        client, view_submission("URAVI", title=title, severity=severity, services=[world["checkout"]])
    )
    assert answer.status_code == 200
    assert answer.json() == {"response_action": "clear"}
    return Incident.objects.get(title=title)


def test_declare_opens_modal_then_channel_invites_and_pinned_card(client, world):
    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = declare_from_slack(client, slack, world)
        assert incident.declared_by == world["ravi"]
        assert incident.severity.level == 1
        assert IncidentChannel.objects.get(incident=incident).status == "pending"
        drain()

    name = f"inc-{incident.number}-checkout-down"
    channel = slack.channel_by_name(name)
    assert channel is not None
    assert len(slack.ok_calls("conversations.create")) == 1
    # the paged responder (alice, on call) and the follower are invited; the declarer too
    assert {"UALICE", "ULEAD", "URAVI"} <= set(channel["members"])
    assert "SEV-1" in channel["topic"]
    assert "Investigating" in channel["topic"]
    assert f"/admin/incidents/incident/{incident.pk}/" in channel["topic"]
    [card_ts] = channel["pins"]
    assert "Checkout down" in channel["messages"][card_ts]["text"]
    incident.refresh_from_db()
    assert incident.channel_url.endswith(channel["id"])
    row = IncidentChannel.objects.get(incident=incident)
    assert row.status == "active"
    assert row.card_pinned
    assert row.ready_at is not None

    # state changes edit the same pinned card and the topic; a portal status update is posted
    with time_machine.travel(T0 + timedelta(minutes=5), tick=True):
        incident_services.acknowledge(incident=incident, actor=world["alice"])
        incident_services.post_update(
            incident=incident, actor=world["alice"], audience="internal", text="Rolling back 4.2"
        )
        drain()
    assert len(slack.ok_calls("chat.update")) >= 1
    assert "Acknowledged" not in channel["messages"][card_ts]["text"]  # the fallback text is short
    card_blocks = str(channel["messages"][card_ts]["blocks"])
    assert "alice" in card_blocks.lower()
    texts = [m["text"] for m in channel["messages"].values()]
    assert any("Rolling back 4.2" in t for t in texts)
    assert len(slack.ok_calls("conversations.create")) == 1
    assert len(slack.ok_calls("pins.add")) == 1


def test_page_buttons_acknowledge_as_the_clicking_user(client, world, django_capture_on_commit_callbacks):
    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = declare_from_slack(client, slack, world)
        drain()
        page = Page.objects.get(subject_id=str(incident.pk))
        [message] = PageMessage.objects.filter(page=page)
        assert message.user == world["alice"]
        assert message.channel_id == "DUALICE"
        posted = slack.channels["DUALICE"]["messages"][message.ts]
        actions = next(b for b in posted["blocks"] if b["type"] == "actions")
        assert [e["action_id"] for e in actions["elements"]][:3] == [
            "page_ack",
            "page_resolve",
            "page_escalate",
        ]

        response = interact(
            client,
            block_action(
                slack, "UALICE", action_id="page_ack", value=str(page.pk), channel="DUALICE", ts=message.ts
            ),
        )
        assert response.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            run_inbound()
        drain()

    page.refresh_from_db()
    incident.refresh_from_db()
    assert page.status == "acknowledged"
    assert page.acknowledged_by == world["alice"]
    assert page.acknowledged_via == "slack"
    assert incident.acknowledged_by == world["alice"]
    updated = slack.channels["DUALICE"]["messages"][message.ts]
    assert "Acknowledged by" in updated["text"]
    assert "Alice" in updated["text"]
    elements = next(b for b in updated["blocks"] if b["type"] == "actions")["elements"]
    assert "page_ack" not in [e.get("action_id") for e in elements]


def test_channel_message_reaches_timeline_and_postmortem_prefill(client, world):
    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = declare_from_slack(client, slack, world)
        drain()
        channel = slack.channel_by_name(f"inc-{incident.number}-checkout-down")
    said_at = T0 + timedelta(minutes=3)
    ts = f"{int(said_at.timestamp())}.000100"
    slack.post_message_as(channel["id"], "UBOB", "DB failover started, replica lag 40s", ts=ts)
    with time_machine.travel(T0 + timedelta(minutes=6), tick=True):
        interact(
            client,
            message_shortcut(
                slack, "UALICE", channel=channel["id"], message=slack.channels[channel["id"]]["messages"][ts]
            ),
        )
        assert run_inbound() == [f"Added to the timeline of {incident.reference}."]
        # the same message twice (a second click): one timeline entry
        interact(
            client,
            message_shortcut(
                slack,
                "UALICE",
                channel=channel["id"],
                message=slack.channels[channel["id"]]["messages"][ts],
                action_ts="1547152399.000001",
            ),
        )
        assert run_inbound() == ["That message is already on the timeline."]
        drain()

    event = incident.timeline.get(data__ts=ts)
    assert event.actor == world["bob"]  # the author, not the person who clicked
    assert event.occurred_at == said_at.replace(microsecond=100)
    assert event.data["added_by"] == world["alice"].pk
    assert "DB failover started, replica lag 40s" in prefill.timeline(incident)
    assert any("Added to the timeline" in r["text"] for r in slack.responses)


def test_reaction_adds_message_to_timeline(client, world):
    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = declare_from_slack(client, slack, world)
        drain()
        channel = slack.channel_by_name(f"inc-{incident.number}-checkout-down")
        ts = slack.post_message_as(channel["id"], "UALICE", "Found it: expired TLS cert on the gateway")
        # https://docs.slack.dev/reference/events/reaction_added (inside an event_callback envelope)
        body = json.dumps(
            {
                "token": "x",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": "Ev0001",
                "event_time": 1360782804,
                "event": {
                    "type": "reaction_added",
                    "user": "URAVI",
                    "reaction": "pushpin",
                    "item_user": "UALICE",
                    "item": {"type": "message", "channel": channel["id"], "ts": ts},
                    "event_ts": "1360782804.083113",
                },
            }
        ).encode()
        response = client.post(
            "/chat/slack/events/", data=body, content_type="application/json", **sign(body)
        )
        assert response.status_code == 200
        run_inbound()
    assert incident.timeline.filter(data__ts=ts, actor=world["alice"]).exists()


def test_url_verification_challenge(client, world):
    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    response = client.post("/chat/slack/events/", data=body, content_type="application/json", **sign(body))
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_usergroup_follows_handoff(world, settings):
    slack = world["slack"]
    settings.CHAT_ONCALL_USERGROUPS = {world["primary"].pk: "SPAYONCALL"}
    with time_machine.travel(T0, tick=False):
        assert chat_services.sync_usergroups() == 1
        drain()
        assert chat_services.sync_usergroups() == 0  # nothing changed: nothing sent
    assert slack.usergroups["SPAYONCALL"] == ["UALICE"]
    # Monday 9 March 09:00 UTC: bob takes over
    with time_machine.travel(T0 + timedelta(days=6, hours=-1, minutes=1), tick=False):
        assert chat_services.sync_usergroups() == 1
        drain()
    assert slack.usergroups["SPAYONCALL"] == ["UBOB"]
    assert len(slack.ok_calls("usergroups.users.update")) == 2


def test_oncall_command_answers_privately(client, world):
    slack = world["slack"]
    with time_machine.travel(T0, tick=True):
        response = slash(client, slack, user_id="URAVI", text="oncall payments")
        assert response.status_code == 200
        assert response.content == b""
        run_inbound()
        drain()
    [answer] = slack.responses
    assert answer["response_type"] == "ephemeral"
    assert "Primary" in answer["text"]
    assert "now Alice Ng" in answer["text"]
    assert "next Bob Ray" in answer["text"]


def test_channel_commands_act_as_the_mapped_user(client, world, django_capture_on_commit_callbacks):
    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = declare_from_slack(client, slack, world, severity=3)
        drain()
        channel_id = IncidentChannel.objects.get(incident=incident).channel_id
        for text in (
            "ack",
            "update Rolled back",
            "severity 2",
            "commander <@UBOB|bob>",
            "mitigated",
            "resolve",
        ):
            slash(client, slack, user_id="UALICE", text=text, channel_id=channel_id)
            with django_capture_on_commit_callbacks(execute=True):
                run_inbound()
        drain()
    incident.refresh_from_db()
    assert incident.acknowledged_by == world["alice"]
    assert incident.severity.level == 2
    assert incident.commander == world["bob"]
    assert incident.status == "resolved"
    assert incident.resolved_by == world["alice"]
    assert incident.updates.get().text == "Rolled back"
    channel = slack.channels[channel_id]
    assert "Resolved" in channel["topic"]
    assert "Bob" in channel["topic"]
    assert "UBOB" in channel["members"]


def test_channel_archived_after_close(world, settings):
    slack = world["slack"]
    settings.CHAT_ARCHIVE_AFTER_HOURS = 2
    with time_machine.travel(T0, tick=True):
        incident = incident_services.declare_incident(
            title="Search slow", severity=4, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
        incident_services.resolve(incident=incident, actor=world["ravi"])
        incident_services.close(incident=incident, actor=world["ravi"])
        drain()
        assert chat_services.archive_due() == 0  # not yet
    with time_machine.travel(T0 + timedelta(hours=2, minutes=1), tick=True):
        assert chat_services.archive_due() == 1
        drain()
        assert chat_services.archive_due() == 0
    channel = slack.channel_by_name(f"inc-{incident.number}-search-slow")
    assert channel["archived"]
    assert IncidentChannel.objects.get(incident=incident).status == "archived"


def test_history_imported_quietly_opens_no_channel(world):
    with incident_services.quiet():
        incident = incident_services.declare_incident(
            title="Old outage", severity=1, services=[world["checkout"]], actor=world["ravi"]
        )
    assert not IncidentChannel.objects.filter(incident=incident).exists()
    assert drain() == 0
    assert not world["slack"].calls
