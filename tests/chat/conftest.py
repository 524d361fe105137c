"""Fixtures for the chat adapter: the Slack fake (tests/chat/fake_slack.py), requests signed
exactly as Slack documents (https://docs.slack.dev/authentication/verifying-requests-from-slack:
``v0:{timestamp}:{raw body}``, HMAC-SHA256 with the signing secret, hex, prefixed ``v0=``),
and helpers that run the outbox and the deferred inbound work the way the workers would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts import roles
from chat import handlers
from chat.models import InboundRequest
from notifications.models import Notification
from notifications.services import deliver_batch
from tests.chat.fake_slack import FakeSlack
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the example secret's shape from Slack's page
T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday: alice is on call (weekly from 5 Jan)


@pytest.fixture(autouse=True)
def _severities(db):
    from incidents.defaults import ensure_severities

    ensure_severities()


@pytest.fixture
def slack(settings):
    fake = FakeSlack().start()
    settings.CHAT_PROVIDER = "slack"
    settings.SLACK_API_URL = fake.url
    settings.SLACK_BOT_TOKEN = fake.token
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.CHAT_CHANNEL_FOLLOWERS = ["sre-lead@example.com"]
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 20
    yield fake
    fake.stop()


@pytest.fixture
def world(db, slack):
    """Payments: alice/bob weekly on the primary schedule, a default policy paging it, the
    checkout service; everyone's Slack account has the same verified e-mail."""
    alice = UserFactory(username="alice", first_name="Alice", last_name="Ng", roles=[roles.RESPONDERS])
    bob = UserFactory(username="bob", first_name="Bob", last_name="Ray", roles=[roles.RESPONDERS])
    ravi = UserFactory(username="ravi", first_name="Ravi", last_name="Iyer", roles=[roles.RESPONDERS])
    lead = UserFactory(username="sre-lead", roles=[roles.MANAGERS])
    support = UserFactory(username="sam", roles=[roles.SUPPORT])
    team = TeamFactory(slug="payments", name="Payments")
    primary = ScheduleFactory(team=team, name="Primary")
    LayerFactory(schedule=primary, people=[alice, bob])
    policy = PolicyFactory(team=team, name="Payments default", is_team_default=True)
    level(policy, 1, delay=5, schedules=[primary])
    checkout = ServiceFactory(owner_team=team, slug="checkout", name="Checkout")
    ids = {}
    for user, slack_id in (
        (alice, "UALICE"),
        (bob, "UBOB"),
        (ravi, "URAVI"),
        (lead, "ULEAD"),
        (support, "USAM"),
    ):
        slack.add_user(slack_id, user.email, name=user.username)
        ids[user.username] = slack_id
    slack.add_user("UOUTSIDER", "outsider@elsewhere.example", name="outsider")
    slack.add_user("UUNVERIFIED", "bob2@example.com", name="unverified", confirmed=False)
    return {**locals(), "ids": ids}


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": ts, "HTTP_X_SLACK_SIGNATURE": signature}


def slash(client, slack, *, user_id: str, text: str, channel_id: str = "CGENERAL", **signing):
    """A slash command as Slack sends it (https://docs.slack.dev/interactivity/implementing-slash-commands:
    form-encoded token, team_id, channel_id, user_id, command, text, response_url, trigger_id)."""
    body = urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": "A0001",
            "response_url": slack.response_url(f"cmd-{user_id}"),
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()
    headers = sign(body, **signing)
    return client.post(
        "/chat/slack/commands/", data=body, content_type="application/x-www-form-urlencoded", **headers
    )


def interact(client, payload: dict, **signing):
    """An interaction payload (https://docs.slack.dev/reference/interaction-payloads/): form field
    ``payload`` holding the JSON."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = sign(body, **signing)
    return client.post(
        "/chat/slack/interactivity/", data=body, content_type="application/x-www-form-urlencoded", **headers
    )


def view_submission(user_id: str, *, title: str, severity: int, services: list, impact: str = "") -> dict:
    """https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload#view_submission"""
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "trigger_id": "12345.98765.abcd2358fdea",
        "view": {
            "id": "VNHU13V36",
            "type": "modal",
            "callback_id": "declare",
            "private_metadata": "",
            "state": {
                "values": {
                    "title": {"value": {"type": "plain_text_input", "value": title}},
                    "severity": {
                        "value": {"type": "radio_buttons", "selected_option": {"value": str(severity)}}
                    },
                    "services": {
                        "value": {
                            "type": "multi_static_select",
                            "selected_options": [{"value": str(s.pk)} for s in services],
                        }
                    },
                    "impact": {"value": {"type": "plain_text_input", "value": impact}},
                }
            },
        },
    }


def block_action(slack, user_id: str, *, action_id: str, value: str, channel: str, ts: str) -> dict:
    """https://docs.slack.dev/reference/interaction-payloads/block_actions-payload"""
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": ts, "text": "Page"},
        "response_url": slack.response_url(f"act-{user_id}"),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "actions",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": value,
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }


def message_shortcut(
    slack, user_id: str, *, channel: str, message: dict, action_ts: str = "1547152325.174498"
) -> dict:
    """https://docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload#message_actions"""
    return {
        "type": "message_action",
        "callback_id": "add_to_timeline",
        "trigger_id": "13345224609.8534564800.6f8ab1f53e13d0cd15f96106292d5536",
        "response_url": slack.response_url(f"sc-{user_id}"),
        "team": {"id": "T0001", "domain": "acme"},
        "channel": {"id": channel, "name": "inc"},
        "user": {"id": user_id, "name": user_id.lower()},
        "message": {"type": "message", "user": message["user"], "ts": message["ts"], "text": message["text"]},
        "action_ts": action_ts,
    }


def drain(rounds: int = 30) -> int:
    """Send every due outbox row (as the notifications worker does); returns how many ran."""
    ran = 0
    for _ in range(rounds):
        ids = list(
            Notification.objects.filter(status="pending", next_attempt_at__lte=timezone.now()).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            break
        deliver_batch(notification_ids=ids)
        ran += len(ids)
    return ran


def run_inbound() -> list[str]:
    """Run the deferred inbound work (tasks.handle_inbound) for every waiting request."""
    return [
        handlers.process(pk)
        for pk in InboundRequest.objects.filter(processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]
