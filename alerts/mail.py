"""E-mail integrations: an SMTP listener (aiosmtpd) that turns mail to ``<key>@<domain>``
into alerts. ``manage.py alerts_smtp`` runs it; put it behind the MX (or a Postfix/Mailgun
forward) for ``ALERTS_EMAIL_DOMAIN`` - docs/alerts.md.

A recipient whose key is unknown or revoked is refused at RCPT (550), so a sender learns at
once; an accepted message is stored raw first, then parsed (``sources.parse_email``)."""

from __future__ import annotations

import asyncio
import email
import logging
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import close_old_connections

from alerts import services, sources
from alerts.models import Integration, RawPayload
from alerts.services import integrations

log = logging.getLogger(__name__)


def _integration(address: str) -> Integration | None:
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != settings.ALERTS_EMAIL_DOMAIN.lower() or not local:
        return None
    integration = integrations.integration_for_key(local)
    if integration is None or integration.kind != Integration.Kind.EMAIL:
        return None
    return integration


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError):
        return part.get_payload(decode=True).decode("utf-8", errors="replace")


def known_recipient(address: str) -> bool:
    try:
        return _integration(address) is not None
    finally:
        close_old_connections()


def receive(recipients: list[str], content: bytes) -> int:
    """Store and ingest one message for each integration it is addressed to; the number of
    integrations that took it."""
    try:
        message = email.message_from_bytes(content, policy=policy.default)
        taken = 0
        for address in recipients:
            integration = _integration(address)
            if integration is None:
                continue
            taken += 1
            try:
                parsed = sources.parse_email(
                    str(message.get("Subject", "")),
                    _text(message),
                    message_id=str(message.get("Message-ID", "")),
                )
            except sources.ParseError as exc:
                payload = services.record_payload(
                    integration=integration, body=content, content_type="message/rfc822",
                    outcome=RawPayload.Outcome.UNPARSED, error=exc.message,
                )  # fmt: skip
                services.payload_unparsed(integration=integration, payload=payload)
                continue
            services.receive(
                integration=integration, body=content, content_type="message/rfc822", alerts=parsed
            )
        return taken
    finally:
        close_old_connections()


class AlertsHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd hook names
        if not await asyncio.to_thread(known_recipient, address):
            return "550 5.1.1 No such alert integration"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        try:
            taken = await asyncio.to_thread(
                receive, list(envelope.rcpt_tos), envelope.original_content or b""
            )
        except Exception:
            log.exception("alerts: could not take an e-mail alert")
            return "451 4.3.0 Could not record the alert; try again later"
        return "250 Message accepted" if taken else "550 5.1.1 No such alert integration"


def controller(host: str, port: int) -> Controller:
    return Controller(
        AlertsHandler(), hostname=host, port=port, data_size_limit=settings.ALERTS_MAX_PAYLOAD_BYTES,
        ident="Ops Portal alerts", ready_timeout=10,
    )  # fmt: skip


__all__ = ["AlertsHandler", "controller", "receive"]
