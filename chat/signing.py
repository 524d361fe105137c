"""Inbound request verification.

Slack (https://api.slack.com/authentication/verifying-requests-from-slack): the signature
``v0=`` + hex HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}`` keyed with the
app's signing secret, in ``X-Slack-Signature``. Refused: a missing or bad signature, a
timestamp more than ``CHAT_REQUEST_TOLERANCE_SECONDS`` (300) from now, and a replay (the
same signature seen before: ``InboundRequest.digest`` is unique).

Mattermost signs nothing: slash commands carry the command's token (compared in constant
time); interactive buttons carry an HMAC of their context that only we can compute
(``button_signature``) - see docs/chat.md, "Where Mattermost differs".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from django.db import IntegrityError, transaction

from chat import conf
from chat.models import InboundRequest

log = logging.getLogger(__name__)


class Refused(Exception):
    """The request is not from the chat workspace, or was seen before. Answered 401."""


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(headers, body: bytes, *, now: float | None = None) -> str:
    """Check a Slack request; returns the digest to record (``remember``). Raises Refused."""
    secret = conf.slack_signing_secret()
    if not secret:
        raise Refused("no signing secret configured")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        raise Refused("missing signature headers")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Refused("bad timestamp") from None
    now = time.time() if now is None else now
    if abs(now - sent) > conf.request_tolerance_seconds():
        raise Refused(f"stale timestamp ({int(now - sent)} s off)")
    expected = slack_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        raise Refused("bad signature")
    return hashlib.sha256(f"slack:{signature}".encode()).hexdigest()


def verify_mattermost_token(token: str) -> None:
    expected = conf.mattermost_command_token()
    if not expected or not token or not hmac.compare_digest(expected.encode(), token.encode()):
        raise Refused("bad command token")


def button_signature(context: dict) -> str:
    """HMAC of a Mattermost button's action, page and recipient (key derived from SECRET_KEY)."""
    from django.conf import settings

    message = f"{context.get('action')}:{context.get('page')}:{context.get('user')}".encode()
    key = hashlib.sha256(b"chat-button:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_button(context: dict, user_id: str) -> None:
    """The context is ours (signed) and the click comes from the person the button was for:
    Mattermost forwards clicks unauthenticated, so a button in Ravi's direct message acts only
    for Ravi even if someone copies its context."""
    signature = str(context.get("sig", ""))
    if not signature or not hmac.compare_digest(button_signature(context), signature):
        raise Refused("bad button signature")
    if not context.get("user") or context.get("user") != user_id:
        raise Refused("button clicked by someone it was not for")


def remember(*, provider: str, digest: str, kind: str, payload: dict) -> InboundRequest:
    """Record a verified request once; a second time (a replay) raises Refused."""
    try:
        with transaction.atomic():
            return InboundRequest.objects.create(provider=provider, digest=digest, kind=kind, payload=payload)
    except IntegrityError:
        raise Refused("replayed request") from None
