"""Channel senders: e-mail (Django's backend), Slack (incoming webhook) and signed webhooks.

Each returns a ``Result``; the service decides retry or failure from it. HTTP goes through
one pooled httpx client per process (keep-alive), with timeouts always set.
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

from notifications import crypto, signing
from notifications.models import Channel, Notification
from opsportal.parsing import parse_int

USER_AGENT = "OpsPortal-Notifications/1"


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


def send(notification: Notification, *, mail_connection=None) -> Result:
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
    return urlsplit(notification.address).netloc.lower()


def open_mail_connection():
    """One backend connection reused for every e-mail of a batch (one SMTP session)."""
    return get_connection(fail_silently=False)


# --- HTTP -------------------------------------------------------------------------------

_client: httpx.Client | None = None
_client_pid: int | None = None
_client_lock = threading.Lock()


def http_timeout() -> httpx.Timeout:
    seconds = float(getattr(settings, "NOTIFICATIONS_HTTP_TIMEOUT", 10))
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def http_client() -> httpx.Client:
    """One keep-alive client per process (re-created after a fork: Celery prefork)."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        with _client_lock:
            if _client is None or _client_pid != os.getpid():
                _client = httpx.Client(
                    timeout=http_timeout(),
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                    limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                )
                _client_pid = os.getpid()
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
    try:
        response = http_client().post(
            url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=http_timeout()
        )
    except httpx.TimeoutException as exc:
        return Result.unreachable_destination(f"timeout: {type(exc).__name__}")
    except httpx.TransportError as exc:  # connection refused, DNS, TLS, protocol errors
        return Result.unreachable_destination(f"connection error: {type(exc).__name__}: {exc}")
    except httpx.InvalidURL as exc:
        return Result.permanent_failure(f"invalid URL: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return Result.sent(code)
    detail = f"HTTP {code}: {response.text[:500]}".strip()
    if code == 429 or code >= 500 or code == 408:
        return Result.transient(detail, code, parse_retry_after(response.headers.get("Retry-After")))
    # 3xx (redirects are not followed: a moved webhook is a configuration problem) and 4xx.
    return Result.permanent_failure(detail, code)


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
