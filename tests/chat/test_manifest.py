"""The Slack app manifest a workspace admin pastes matches what the portal serves: the
command and request URLs resolve to our endpoints, the shortcut's callback id is the one we
handle, and every Web API method we call has its scope (scopes per method from each method's
reference page on docs.slack.dev, e.g. https://docs.slack.dev/reference/methods/conversations.create)."""

from pathlib import Path
from urllib.parse import urlsplit

import yaml
from django.urls import resolve

from chat import conf

MANIFEST = Path(__file__).resolve().parents[2] / "chat" / "slack_manifest.yaml"

SCOPES_BY_METHOD = {
    "conversations.create": "channels:manage",
    "conversations.invite": "channels:manage",
    "conversations.setTopic": "channels:manage",
    "conversations.archive": "channels:manage",
    "conversations.list": "channels:read",
    "conversations.history": "channels:history",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "pins.add": "pins:write",
    "usergroups.users.update": "usergroups:write",
    "users.lookupByEmail": "users:read.email",
    "users.info": "users:read",
}


def test_manifest_matches_the_endpoints_and_scopes():
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == conf.command_name()
    assert command["should_escape"] is True  # mentions arrive as <@U123|name>
    assert resolve(urlsplit(command["url"]).path).view_name == "chat:slack-commands"
    settings = manifest["settings"]
    assert (
        resolve(urlsplit(settings["interactivity"]["request_url"]).path).view_name
        == "chat:slack-interactivity"
    )
    assert (
        resolve(urlsplit(settings["event_subscriptions"]["request_url"]).path).view_name
        == "chat:slack-events"
    )
    assert settings["event_subscriptions"]["bot_events"] == ["reaction_added"]
    [shortcut] = manifest["features"]["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == "add_to_timeline"
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set(SCOPES_BY_METHOD.values()) | {"commands", "im:write", "reactions:read"} <= scopes
