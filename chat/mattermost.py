"""The Mattermost REST API v4, through the one outbound guard.

Same jobs as ``chat/slack.py`` (https://api.mattermost.com/): ``POST /api/v4/channels``
creates the channel, ``POST /api/v4/channels/{id}/members`` adds people,
``PUT /api/v4/channels/{id}/patch`` sets the header (Slack's topic), ``POST /api/v4/posts``
posts, ``PUT /api/v4/posts/{id}/patch`` edits, ``POST /api/v4/posts/{id}/pin`` pins,
``DELETE /api/v4/channels/{id}`` archives, ``GET /api/v4/users/email/{email}`` and
``GET /api/v4/users/{id}`` map people, ``POST /api/v4/channels/direct`` opens a direct
channel. Errors are HTTP statuses with ``{"id": ..., "message": ...}``.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
from django.urls import reverse

from chat import conf, signing
from chat.message import Message
from chat.slack import ApiFailed
from notifications import channels, outbound
from opsportal.links import absolute_url


def url(path: str) -> str:
    return f"{conf.mattermost_url()}/api/v4/{path.lstrip('/')}"


def call(method: str, path: str, body: dict | list | None = None, *, timeout: float | None = None):
    """One API call; returns the decoded JSON answer (None for 404 on a GET); raises ApiFailed."""
    token = conf.mattermost_bot_token()
    if not token or not conf.mattermost_url():
        raise ApiFailed(
            channels.Result.transient("Mattermost is not configured (MATTERMOST_URL, MATTERMOST_BOT_TOKEN)")
        )
    seconds = timeout or conf.http_timeout()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        answer = outbound.request(
            channels.http_client(),
            method,
            url(path),
            content=json.dumps(body).encode() if body is not None else None,
            headers=headers,
            total_timeout=seconds,
            connect_timeout=min(seconds, 5.0),
        )
    except outbound.Refused as exc:
        raise ApiFailed(channels.Result.permanent_failure(f"refused by the outbound guard: {exc}")) from None
    except httpx.TimeoutException:
        raise ApiFailed(channels.Result.unreachable_destination(f"timeout after {seconds:g} s")) from None
    except httpx.HTTPError as exc:
        raise ApiFailed(
            channels.Result.unreachable_destination(f"{type(exc).__name__}: {outbound.excerpt(str(exc))}")
        ) from None
    code = answer.status_code
    try:
        data = json.loads(answer.content) if answer.content else {}
    except ValueError:
        data = {}
    if 200 <= code < 300:
        return data
    error = str(data.get("id") or "") if isinstance(data, dict) else ""
    detail = f"HTTP {code}: {error or answer.excerpt()}"
    if code == 404 and method == "GET":
        return None
    if code in (401, 429, 408) or code >= 500:
        raise ApiFailed(
            channels.Result.transient(
                detail, code, channels.parse_retry_after(answer.headers.get("Retry-After"))
            ),
            error,
        )
    raise ApiFailed(channels.Result.permanent_failure(detail, code), error)


def action_url() -> str:
    return absolute_url(reverse("chat:mattermost-action"))


def props(message: Message) -> dict:
    attachment: dict = {"fallback": message.text, "title": message.title, "text": message.body}
    if message.link:
        attachment["title_link"] = message.link[1]
    if message.fields:
        attachment["fields"] = [
            {"title": label, "value": value or "-", "short": True} for label, value in message.fields
        ]
    if message.buttons:
        actions = []
        for button in message.buttons:
            context = {"action": button.action, "page": button.value, "user": message.recipient}
            context["sig"] = signing.button_signature(context)
            actions.append(
                {
                    "id": button.action.replace("_", ""),  # Mattermost: letters and digits only
                    "name": button.label,
                    "style": {"primary": "primary", "danger": "danger"}.get(button.style, "default"),
                    "integration": {"url": action_url(), "context": context},
                }
            )
        attachment["actions"] = actions
    if message.footer:
        attachment["footer"] = message.footer
    return {"attachments": [attachment]}


def channel_url(name: str) -> str:
    return f"{conf.mattermost_url()}/{quote(conf.mattermost_team_name() or 'team')}/channels/{quote(name)}"
