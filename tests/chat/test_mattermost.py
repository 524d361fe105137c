"""Mattermost: the same slash command, buttons and channel creation through its REST API,
against tests/chat/fake_mattermost.py (which names the API pages). Slash-command requests as
https://developers.mattermost.com/integrate/slash-commands/custom/ documents them (form POST
with ``token``), button clicks as https://developers.mattermost.com/integrate/plugins/interactive-messages/
(JSON with ``user_id``, ``channel_id``, ``post_id`` and the button's ``context``)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine

from chat.models import IncidentChannel, PageMessage
from incidents import services as incident_services
from incidents.models import Incident
from oncall.models import Page
from tests.chat.conftest import T0, drain, run_inbound
from tests.chat.fake_mattermost import FakeMattermost

COMMAND_TOKEN = "mm-command-token-9f2c"


@pytest.fixture
def mm(world, settings):
    fake = FakeMattermost().start()
    settings.CHAT_PROVIDER = "mattermost"
    settings.MATTERMOST_URL = fake.url
    settings.MATTERMOST_BOT_TOKEN = fake.token
    settings.MATTERMOST_TEAM_ID = fake.team_id
    settings.MATTERMOST_TEAM_NAME = "acme"
    settings.MATTERMOST_COMMAND_TOKEN = COMMAND_TOKEN
    settings.CHAT_CHANNEL_FOLLOWERS = []
    for name in ("alice", "bob", "ravi", "sam"):
        fake.add_user(f"mm{name}", world[{"sam": "support"}.get(name, name)].email, username=name)
    fake.add_user("mmstranger", "stranger@elsewhere.example", username="stranger")
    yield fake
    fake.stop()


def command(client, mm, *, user_id: str, text: str, token: str = COMMAND_TOKEN, channel_id: str = "town"):
    body = urlencode(
        {
            "channel_id": channel_id, "channel_name": "town-square", "command": "/incident",
            "response_url": f"{mm.url}/response/{user_id}", "team_domain": "acme", "team_id": mm.team_id,
            "text": text, "token": token, "trigger_id": f"trig-{user_id}-{text}", "user_id": user_id,
            "user_name": user_id.removeprefix("mm"),
        }
    ).encode()  # fmt: skip
    return client.post(
        "/chat/mattermost/command/", data=body, content_type="application/x-www-form-urlencoded"
    )


def test_declare_creates_channel_with_members_header_and_pinned_card(client, world, mm):
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        assert (
            command(client, mm, user_id="mmravi", text="declare sev1 checkout Checkout down").status_code
            == 200
        )
        run_inbound()
        drain()
    incident = Incident.objects.get(title="Checkout down")
    assert incident.declared_by == world["ravi"]
    assert incident.severity.level == 1
    [channel] = [c for c in mm.channels.values() if c["name"].startswith("inc-")]
    assert channel["name"] == f"inc-{incident.number}-checkout-down"
    assert {"mmravi", "mmalice"} <= set(channel["members"])
    assert "SEV-1" in channel["header"]
    [card] = [p for p in mm.posts.values() if p["channel_id"] == channel["id"]]
    assert card["is_pinned"]
    assert "Checkout down" in card["message"]
    incident.refresh_from_db()
    assert incident.channel_url == f"{mm.url}/acme/channels/{channel['name']}"
    assert any("Declared" in r["text"] for r in mm.responses)
    assert len(mm.ok_calls("create_channel")) == 1


def test_bad_command_token_refused(client, world, mm):
    response = command(client, mm, user_id="mmravi", text="declare sev1 checkout Nope", token="wrong")
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_page_button_acknowledges_and_edits_post(client, world, mm, django_capture_on_commit_callbacks):
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = incident_services.declare_incident(
            title="Checkout down", severity=1, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
        page = Page.objects.get(subject_id=str(incident.pk))
        message = PageMessage.objects.get(page=page)
        post = mm.posts[message.ts]
        [ack] = [a for a in post["props"]["attachments"][0]["actions"] if a["name"] == "Acknowledge"]
        click = {
            "user_id": "mmalice", "user_name": "alice", "channel_id": message.channel_id, "post_id": message.ts,
            "team_id": mm.team_id, "context": ack["integration"]["context"],
        }  # fmt: skip
        assert ack["integration"]["url"].endswith("/chat/mattermost/action/")
        response = client.post(
            "/chat/mattermost/action/", data=json.dumps(click), content_type="application/json"
        )
        assert response.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            run_inbound()
        drain()
    page.refresh_from_db()
    incident.refresh_from_db()
    assert page.status == "acknowledged"
    assert page.acknowledged_by == world["alice"]
    assert page.acknowledged_via == "mattermost"
    assert incident.acknowledged_by == world["alice"]
    assert "Acknowledged by" in mm.posts[message.ts]["message"]


def test_forged_or_borrowed_button_refused(client, world, mm):
    """Mattermost forwards clicks without proving who clicked: a context we did not sign, or
    alice's button clicked in the name of someone else, is refused (401) and nothing changes."""
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = incident_services.declare_incident(
            title="Checkout down", severity=1, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
        page = Page.objects.get(subject_id=str(incident.pk))
        forged = {
            "user_id": "mmalice",
            "context": {"action": "page_ack", "page": str(page.pk), "user": "mmalice", "sig": "0" * 64},
        }
        response = client.post(
            "/chat/mattermost/action/", data=json.dumps(forged), content_type="application/json"
        )
        assert response.status_code == 401
        message = PageMessage.objects.get(page=page)
        assert message.external_user_id == "mmalice"
        context = mm.posts[message.ts]["props"]["attachments"][0]["actions"][0]["integration"]["context"]
        for someone_else in ("mmbob", "mmstranger"):
            borrowed = {"user_id": someone_else, "channel_id": message.channel_id, "context": context}
            response = client.post(
                "/chat/mattermost/action/", data=json.dumps(borrowed), content_type="application/json"
            )
            assert response.status_code == 401
        assert run_inbound() == []
    page.refresh_from_db()
    assert page.status == "triggered"
    assert IncidentChannel.objects.get(incident=incident).provider == "mattermost"
