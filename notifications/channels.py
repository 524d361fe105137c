"""Channel senders: e-mail (Django's backend), Slack (incoming webhook) and signed webhooks.

Each returns a ``Result``; the service decides retry or failure from it. HTTP goes through
the outbound guard (``notifications.outbound``): one pooled, guarded httpx client per process
(keep-alive), every connection checked against the allow-list when it is opened, redirects
never followed, and each request bounded by a total deadline of
``NOTIFICATIONS_HTTP_TIMEOUT`` seconds (connect + send + the whole answer).
"""

from __future__ import annotations

import json
import os
import smtplib
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from notifications import crypto, outbound, signing
from notifications.models import Channel, Notification, OutboxChannel
from opsportal.parsing import parse_int

USER_AGENT = "OpsPortal-Notifications/1"
ANSWER_READ_BYTES = 4096  # read at most this much of an answer (enough for an error message)
LOG_EXCERPT_CHARS = 200  # and keep at most this much of it in the log


@dataclass(frozen=True)
class Result:
    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    unreachable: bool = False  # timeout / connection error: the destination itself is down

    @classmethod
    def sent(cls, status_code: int | None = None) -> Result:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def transient(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> Result:
        return cls(ok=False, status_code=status_code, error=error, retry_after=retry_after)

    @classmethod
    def unreachable_destination(cls, error: str) -> Result:
        return cls(ok=False, error=error, unreachable=True)

    @classmethod
    def permanent_failure(cls, error: str, status_code: int | None = None) -> Result:
        return cls(ok=False, status_code=status_code, error=error, permanent=True)


# --- App API calls (channel "app") ------------------------------------------------------
# A higher layer (chat: Slack and Mattermost Web API calls) registers a sender by name in its
# AppConfig.ready(); rows written by ``services.enqueue_call(sender=name, ...)`` are sent by it
# with the outbox's claim, retry (Retry-After honoured) and failure bookkeeping.
_app_senders: dict = {}


def register_app_sender(name: str, sender) -> None:
    """``sender(notification) -> Result``: perform the call described by ``notification.payload``
    through the outbound guard. Registering a name again replaces its sender."""
    _app_senders[name] = sender


def send(notification: Notification, *, mail_connection=None) -> Result:
    if notification.channel == OutboxChannel.APP:
        sender = _app_senders.get(notification.template)
        if sender is None:
            # The app is not installed in this process (yet): try again later, not never.
            return Result.transient(f"no sender registered for {notification.template!r}")
        return sender(notification)
    if notification.channel == Channel.EMAIL:
        return send_email(notification, connection=mail_connection)
    if notification.channel == Channel.SLACK:
        return send_slack(notification)
    if notification.channel == Channel.WEBHOOK:
        return send_webhook(notification)
    return Result.permanent_failure(f"unknown channel {notification.channel!r}")


def destination_key(notification: Notification) -> str:
    """What fails together: one HTTP host, or the e-mail backend."""
    if notification.channel == Channel.EMAIL:
        return "email"
    if notification.channel == OutboxChannel.APP:
        return f"app:{notification.template}"
    return urlsplit(notification.address).netloc.lower()


def open_mail_connection():
    """One backend connection reused for every e-mail of a batch (one SMTP session)."""
    return get_connection(fail_silently=False)


# --- HTTP -------------------------------------------------------------------------------

_client: httpx.Client | None = None
_client_key: tuple | None = None
_client_lock = threading.Lock()


def http_timeout_seconds() -> float:
    """Total seconds per Slack/webhook request: connect + send + the whole answer."""
    return float(getattr(settings, "NOTIFICATIONS_HTTP_TIMEOUT", 10))


def http_client() -> httpx.Client:
    """One keep-alive guarded client per process, re-created after a fork (Celery prefork)
    and when the allow-list changes (connections opened under the old one are dropped)."""
    global _client, _client_key
    key = (os.getpid(), outbound.allowed_networks())
    if _client is None or _client_key != key:
        with _client_lock:
            if _client is None or _client_key != key:
                seconds = http_timeout_seconds()
                _client = outbound.client(
                    timeout=seconds,
                    connect_timeout=min(seconds, 5.0),
                    max_connections=20,
                    headers={"User-Agent": USER_AGENT},
                )
                _client_key = key
    return _client


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    seconds = parse_int(value, min_value=0)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Result:
    seconds = http_timeout_seconds()
    try:
        answer = outbound.request(
            http_client(),
            "POST",
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            total_timeout=seconds,
            connect_timeout=min(seconds, 5.0),
            max_body=ANSWER_READ_BYTES,
        )
    except outbound.Refused as exc:
        # Nothing was sent. Permanent: the allow-list or the address must change first (an
        # operator can resend then); retrying would only knock on the same door.
        return Result.permanent_failure(f"refused by the outbound guard: {exc}")
    except outbound.DeadlineExceeded as exc:
        if exc.status_code is not None and 200 <= exc.status_code < 300:
            # The receiver accepted the message and then dragged its body out: sent (a retry
            # would deliver it twice). The connection was dropped at the deadline.
            return Result.sent(exc.status_code)
        if exc.status_code is not None:
            return _classify(exc.status_code, exc.headers, f"(answer not complete within {seconds:g} s)")
        return Result.unreachable_destination(f"timeout: no complete answer within {seconds:g} s")
    except httpx.TimeoutException as exc:
        return Result.unreachable_destination(f"timeout: {type(exc).__name__}")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return Result.permanent_failure(f"invalid URL: {outbound.excerpt(str(exc))}")
    except httpx.TransportError as exc:  # connection refused, DNS, TLS, protocol errors
        return Result.unreachable_destination(
            f"connection error: {type(exc).__name__}: {outbound.excerpt(str(exc), 300)}"
        )
    except httpx.DecodingError as exc:
        return Result.transient(f"unreadable answer: {outbound.excerpt(str(exc))}")
    return _classify(answer.status_code, answer.headers, answer.excerpt(LOG_EXCERPT_CHARS))


def _classify(code: int, headers: httpx.Headers | None, detail: str) -> Result:
    headers = headers or httpx.Headers()
    if 200 <= code < 300:
        return Result.sent(code)
    if 300 <= code < 400:
        # Redirects are never followed: a moved webhook is a configuration problem, and a
        # redirect is how a public address would point the worker at an internal one.
        location = outbound.excerpt(headers.get("location", ""), 120)
        where = f" to {location}" if location else ""
        return Result.permanent_failure(f"HTTP {code}: redirect{where} not followed; update the URL", code)
    message = f"HTTP {code}: {detail}".strip()
    if code == 429 or code >= 500 or code == 408:
        return Result.transient(message, code, parse_retry_after(headers.get("Retry-After")))
    return Result.permanent_failure(message, code)


# --- E-mail -----------------------------------------------------------------------------


def send_email(notification: Notification, *, connection=None) -> Result:
    message = EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={"X-OpsPortal-Notification": notification.idempotency_key},
        connection=connection,
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return Result.permanent_failure(f"recipient refused: {exc.recipients}")
    except (smtplib.SMTPException, OSError) as exc:
        return Result.unreachable_destination(f"e-mail backend error: {type(exc).__name__}: {exc}")
    return Result.sent()


# --- Slack ------------------------------------------------------------------------------


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SEVERITY_EMOJI = {"SEV-1": ":red_circle:", "SEV-2": ":large_orange_circle:", "SEV-3": ":large_yellow_circle:"}


def slack_message(notification: Notification) -> dict:
    """Block Kit layout: header (severity + title), body, fields, link buttons, context."""
    p = notification.payload
    severity = p.get("severity")
    title = p.get("title") or notification.subject
    header = f"{severity} · {title}" if severity else title
    mention = ""
    if notification.contact_method and notification.contact_method.slack_member_id:
        mention = f"<@{notification.contact_method.slack_member_id}> "
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}}
    ]
    body = notification.body or notification.subject
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (mention + _mrkdwn(body))[:3000]}})
    fields = p.get("fields") or []
    if severity:
        fields = [["Severity", f"{SEVERITY_EMOJI.get(severity, '')} {severity}".strip()], *fields]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}"[:2000]}
                    for label, value in fields[:10]
                ],
            }
        )
    buttons = [["Open in " + settings.SITE_NAME, p.get("url")], *(p.get("actions") or [])]
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": label[:75]},
            "url": link,
            **({"style": "primary"} if i == 0 else {}),
        }
        for i, (label, link) in enumerate(buttons[:5])
        if link
    ]
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_mrkdwn(settings.SITE_NAME)} · {notification.get_kind_display()}",
                }
            ],
        }
    )
    return {"text": mention + notification.subject, "blocks": blocks}


def send_slack(notification: Notification) -> Result:
    body = json.dumps(slack_message(notification)).encode()
    return _post(notification.address, body, {signing.DELIVERY_HEADER: notification.idempotency_key})


# --- Signed webhook ---------------------------------------------------------------------


def webhook_body(notification: Notification) -> dict:
    p = notification.payload
    recipient = notification.recipient
    return {
        "id": notification.idempotency_key,
        "event_key": notification.event_key,
        "kind": notification.kind,
        "subject": notification.subject,
        "body": notification.body,
        "title": p.get("title"),
        "url": p.get("url"),
        "severity": p.get("severity"),
        "fields": [{"label": label, "value": value} for label, value in p.get("fields") or []],
        "actions": [{"label": label, "url": link} for label, link in p.get("actions") or []],
        "recipient": {"username": recipient.get_username(), "email": recipient.email} if recipient else None,
        "created_at": notification.created_at.isoformat(),
        "attempt": notification.attempts,
    }


def send_webhook(notification: Notification) -> Result:
    method = notification.contact_method
    if method is None or not method.secret_encrypted:
        return Result.permanent_failure("the webhook contact method was removed")
    secret = crypto.decrypt(method.secret_encrypted)
    if secret is None:
        return Result.permanent_failure(
            "the webhook secret cannot be decrypted (SECRET_KEY changed?); re-enter it"
        )
    body = json.dumps(webhook_body(notification), separators=(",", ":")).encode()
    headers = {
        signing.SIGNATURE_HEADER: signing.sign(secret, body),
        signing.DELIVERY_HEADER: notification.idempotency_key,
    }
    return _post(notification.address, body, headers)
