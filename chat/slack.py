"""The Slack Web API, through the one outbound guard (``notifications.outbound``).

Every call is ``POST https://slack.com/api/<method>`` with ``Authorization: Bearer <bot
token>``; write methods take a JSON body, read methods a form body (Slack's "Using the Web
API" page). An answer is HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error":
"..."}``; rate limiting is HTTP 429 with ``Retry-After``. ``ApiFailed`` carries the outbox
``Result`` (transient or permanent) for the step that made the call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from chat import conf
from chat.message import Message, mrkdwn
from notifications import channels, outbound

# Errors that clear up by themselves or once an operator fixes the installation: retried with
# the outbox's backoff (the token being revoked must not lose the incident's channel).
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "service_unavailable",
        "internal_error",
        "fatal_error",
        "request_timeout",
        "team_added_to_org",
    }
)
FORM_METHODS = frozenset({"users.lookupByEmail", "users.info", "conversations.history", "conversations.list"})


class ApiFailed(Exception):
    def __init__(self, result: channels.Result, error: str = "") -> None:
        super().__init__(result.error)
        self.result = result
        self.error = error  # Slack's error code when it gave one


@dataclass(frozen=True)
class Reply:
    data: dict


def method_url(method: str) -> str:
    return conf.slack_api_url() + method


def call(method: str, args: dict, *, token: str | None = None, timeout: float | None = None) -> Reply:
    """One Web API call; raises ApiFailed unless Slack answered ``ok: true``."""
    token = conf.slack_bot_token() if token is None else token
    if not token:
        raise ApiFailed(channels.Result.transient("no Slack bot token configured (SLACK_BOT_TOKEN)"))
    headers = {"Authorization": f"Bearer {token}"}
    if method in FORM_METHODS:
        content = urlencode({k: v for k, v in args.items() if v is not None}).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        content = json.dumps(args).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    return _exchange(method_url(method), content, headers, timeout)


def respond(response_url: str, body: dict, *, timeout: float | None = None) -> Reply:
    """Answer a slash command or an interaction through its ``response_url``."""
    content = json.dumps(body).encode()
    return _exchange(response_url, content, {"Content-Type": "application/json"}, timeout, plain_ok=True)


def _exchange(url: str, content: bytes, headers: dict, timeout: float | None, *, plain_ok=False) -> Reply:
    seconds = timeout or conf.http_timeout()
    try:
        answer = outbound.request(
            channels.http_client(),
            "POST",
            url,
            content=content,
            headers=headers,
            total_timeout=seconds,
            connect_timeout=min(seconds, 5.0),
            max_body=1_048_576,
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
    if code == 429 or code >= 500 or code == 408:
        raise ApiFailed(
            channels.Result.transient(
                f"HTTP {code}: {answer.excerpt()}",
                code,
                channels.parse_retry_after(answer.headers.get("Retry-After")),
            )
        )
    if code != 200:
        raise ApiFailed(channels.Result.permanent_failure(f"HTTP {code}: {answer.excerpt()}", code))
    try:
        data = json.loads(answer.content or b"{}")
    except ValueError:
        if plain_ok:  # response_url answers "ok" as text
            return Reply({"ok": True})
        raise ApiFailed(channels.Result.transient(f"unreadable answer: {answer.excerpt()}", code)) from None
    if not isinstance(data, dict):
        raise ApiFailed(channels.Result.transient("unexpected answer", code))
    if plain_ok and "ok" not in data:
        return Reply({"ok": True, **data})
    if data.get("ok") is True:
        return Reply(data)
    error = str(data.get("error") or "unknown_error")
    if error in TRANSIENT_ERRORS:
        result = channels.Result.transient(
            f"Slack: {error}", code, channels.parse_retry_after(answer.headers.get("Retry-After"))
        )
    else:
        result = channels.Result.permanent_failure(f"Slack: {error}", code)
    raise ApiFailed(result, error)


# --- Block Kit -------------------------------------------------------------------------------


def blocks(message: Message) -> list[dict]:
    out: list[dict] = []
    if message.title:
        out.append(
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150], "emoji": True}}
        )
    if message.body:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(message.body)[:3000]}})
    if message.fields:
        out.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{mrkdwn(label)}*\n{mrkdwn(value) or '-'}"[:2000]}
                    for label, value in message.fields[:10]
                ],
            }
        )
    elements: list[dict] = []
    for button in message.buttons[:5]:
        element = {
            "type": "button",
            "action_id": button.action,
            "text": {"type": "plain_text", "text": button.label[:75]},
            "value": button.value[:2000],
        }
        if button.style:
            element["style"] = button.style
        elements.append(element)
    if message.link:
        label, url = message.link
        elements.append(
            {
                "type": "button",
                "action_id": "open_link",
                "text": {"type": "plain_text", "text": label[:75]},
                "url": url,
            }
        )
    if elements:
        out.append({"type": "actions", "block_id": "actions", "elements": elements})
    if message.footer:
        out.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(message.footer)[:3000]}]}
        )
    return out


def payload(message: Message) -> dict:
    return {"text": message.text[:3000], "blocks": blocks(message)}


def channel_url(channel_id: str) -> str:
    team = conf.slack_team_url()
    if team:
        return f"{team}/archives/{channel_id}"
    return f"https://slack.com/app_redirect?channel={channel_id}"
