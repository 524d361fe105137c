"""Inbound requests are refused, and nothing changes, for: a bad signature, a stale timestamp,
a replayed request, an unmapped chat user (no account, or an e-mail the workspace has not
verified), and a mapped user without the role. Signatures are built as Slack documents them
(https://docs.slack.dev/authentication/verifying-requests-from-slack), see conftest.sign."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine

from chat.models import InboundRequest, IncidentChannel, PageMessage
from incidents.models import Incident
from oncall.models import Page
from tests.chat.conftest import (
    T0,
    block_action,
    drain,
    interact,
    run_inbound,
    sign,
    slash,
    view_submission,
)


def test_bad_signature_refused_and_logged(client, world, caplog):
    slack = world["slack"]
    body = urlencode({"command": "/incident", "text": "declare Checkout down", "user_id": "URAVI"}).encode()
    headers = sign(body, secret="not-the-signing-secret")
    response = client.post(
        "/chat/slack/commands/", data=body, content_type="application/x-www-form-urlencoded", **headers
    )
    assert response.status_code == 401
    assert "bad signature" in caplog.text
    assert not slack.calls
    assert not InboundRequest.objects.exists()


def test_tampered_body_refused(client, world):
    body = urlencode({"text": "help", "user_id": "URAVI"}).encode()
    headers = sign(body)
    response = client.post(
        "/chat/slack/commands/",
        data=body + b"&x=1",
        content_type="application/x-www-form-urlencoded",
        **headers,
    )
    assert response.status_code == 401


# Just past the 300 s tolerance, with room for the request itself to take a few seconds on a
# loaded machine (int() also drops up to a second): +301 raced the clock.
@pytest.mark.parametrize("skew", [-305, 305, -3600])
def test_stale_timestamp_refused(client, world, skew, caplog):
    slack = world["slack"]
    response = slash(
        client, slack, user_id="URAVI", text="declare Checkout down", timestamp=int(time.time()) + skew
    )
    assert response.status_code == 401
    assert "stale timestamp" in caplog.text
    assert not slack.views
    assert not InboundRequest.objects.exists()


def test_missing_headers_refused(client, world):
    response = client.post(
        "/chat/slack/commands/", data=b"text=help", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 401


def test_replayed_request_refused(client, world, caplog):
    slack = world["slack"]
    with time_machine.travel(T0, tick=False):
        first = slash(client, slack, user_id="URAVI", text="declare Checkout down")
        again = slash(
            client, slack, user_id="URAVI", text="declare Checkout down"
        )  # same bytes, same signature
    assert first.status_code == 200
    assert again.status_code == 401
    assert "replayed request" in caplog.text
    assert len(slack.views) == 1
    assert InboundRequest.objects.count() == 1


def test_requests_refused_when_slack_is_not_configured(client, world, settings):
    settings.CHAT_PROVIDER = ""
    assert slash(client, world["slack"], user_id="URAVI", text="help").status_code == 401
    settings.CHAT_PROVIDER = "slack"
    settings.SLACK_SIGNING_SECRET = ""
    assert slash(client, world["slack"], user_id="URAVI", text="help").status_code == 401


@pytest.fixture
def paged(client, world):
    """An incident declared in the portal pages alice; her DM carries the buttons."""
    from incidents import services

    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = services.declare_incident(
            title="Checkout down", severity=1, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
    page = Page.objects.get(subject_id=str(incident.pk))
    message = PageMessage.objects.get(page=page)
    return incident, page, message


@pytest.mark.parametrize(
    ("slack_user", "explanation"),
    [
        ("UOUTSIDER", "could not match your chat account"),  # no portal account with that e-mail
        ("UUNVERIFIED", "could not match your chat account"),  # e-mail not verified by Slack
        ("UNOBODY", "could not match your chat account"),  # not even in the workspace
        ("USAM", "You may not act on pages."),  # support: mapped, but no paging role
    ],
)
def test_button_refused_for_unmapped_or_unauthorised_user(client, world, paged, slack_user, explanation):
    slack = world["slack"]
    incident, page, message = paged
    with time_machine.travel(T0 + timedelta(minutes=2), tick=True):
        for action in ("page_ack", "page_resolve", "page_escalate"):
            payload = block_action(
                slack,
                slack_user,
                action_id=action,
                value=str(page.pk),
                channel=message.channel_id,
                ts=message.ts,
            )
            payload["actions"][0]["action_ts"] = f"1548426417.{action}"
            assert interact(client, payload).status_code == 200
        outcomes = run_inbound()
        drain()
    assert all(explanation in o for o in outcomes), outcomes
    page.refresh_from_db()
    incident.refresh_from_db()
    assert page.status == "triggered"
    assert page.acknowledged_by is None
    assert incident.acknowledged_at is None
    assert incident.status == "investigating"
    assert page.events.filter(kind="escalated").count() == 0
    assert len([r for r in slack.responses if explanation in r["text"]]) == 3
    assert all(r["response_type"] == "ephemeral" for r in slack.responses)


def test_declare_refused_for_unmapped_and_roleless_users(client, world):
    for user_id, message in (("UOUTSIDER", "could not match"), ("USAM", "Only responders")):
        answer = interact(
            client, view_submission(user_id, title="Nope", severity=2, services=[world["checkout"]])
        )
        assert answer.status_code == 200
        assert answer.json()["response_action"] == "errors"
        assert message in answer.json()["errors"]["title"]
    assert not Incident.objects.exists()


def test_channel_command_refused_for_roleless_user(client, world):
    from incidents import services

    slack = world["slack"]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        incident = services.declare_incident(
            title="Checkout down", severity=3, services=[world["checkout"]], actor=world["ravi"]
        )
        drain()
        channel_id = IncidentChannel.objects.get(incident=incident).channel_id
        slash(client, slack, user_id="USAM", text="resolve", channel_id=channel_id)
        slash(client, slack, user_id="UOUTSIDER", text="ack", channel_id=channel_id)
        outcomes = run_inbound()
    assert outcomes[0].startswith("Not done: Only responders")
    assert "could not match" in outcomes[1]
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert incident.acknowledged_at is None
