"""What the adapter says in chat: channel names, topics, the summary card, page messages."""

from __future__ import annotations

import hashlib
import json
import re

from django.conf import settings
from django.utils.text import slugify

from chat import conf
from chat.message import Button, Message
from opsportal.links import absolute_url

NAME_MAX = 80  # Slack and Mattermost channel names: at most 80 characters


def channel_name(incident) -> str:
    """``inc-1234-checkout-down`` (``CHAT_CHANNEL_PATTERN``: {number}, {slug}, {severity})."""
    slug = slugify(incident.title)[:60].strip("-") or "incident"
    name = conf.channel_pattern().format(
        number=incident.number, slug=slug, severity=slugify(incident.severity.label)
    )
    name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return name[:NAME_MAX].rstrip("-") or f"inc-{incident.number}"


def _commander(incident) -> str:
    return str(incident.commander) if incident.commander_id else "no commander"


def topic(incident) -> str:
    link = absolute_url(incident.get_absolute_url())
    drill = "[DRILL] " if incident.drill else ""
    return (
        f"{drill}{incident.severity.label} · {incident.get_status_display()} · IC: {_commander(incident)} · {link}"
    )[:250]


def card(incident) -> Message:
    link = absolute_url(incident.get_absolute_url())
    services = ", ".join(s.name for s in incident.services.all()) or "-"
    acknowledged = (
        f"{incident.acknowledged_by} at {incident.acknowledged_at:%H:%M} UTC"
        if incident.acknowledged_at
        else "not yet"
    )
    title = f"{'[DRILL] ' if incident.drill else ''}{incident.reference} {incident.title}"
    return Message(
        text=f"{title} — {incident.severity.label}, {incident.get_status_display()}",
        title=title,
        body=incident.summary or incident.customer_impact or "",
        fields=[
            ("Severity", incident.severity.label),
            ("Status", incident.get_status_display()),
            ("Commander", _commander(incident)),
            ("Acknowledged", acknowledged),
            ("Services", services),
            ("Customer impact", incident.customer_impact or "-"),
        ],
        link=(f"Open in {settings.SITE_NAME}", link),
        footer=f"Updated in place as the incident changes. {conf.command_name()} help for commands.",
    )


def digest(message: Message, topic_text: str = "") -> str:
    raw = json.dumps([message.text, message.title, message.body, message.fields, topic_text], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def status_update(update) -> Message:
    audience = "External" if update.audience == "external" else "Internal"
    return Message(
        text=f"{audience} update from {update.author}: {update.text}",
        title="",
        body=f"*{audience} update* from {update.author} ({update.get_status_display()}):\n{update.text}",
    )


def page(page, *, recipient: str = "") -> Message:
    link = absolute_url(page.get_absolute_url())
    fields = [
        ("Service", page.service.name if page.service_id else "-"),
        ("Status", page.get_status_display()),
    ]
    buttons: list[Button] = []
    footer = ""
    if page.status == "acknowledged":
        footer = f"Acknowledged by {page.acknowledged_by} at {page.acknowledged_at:%H:%M} UTC"
        buttons = [Button("page_resolve", "Resolve", str(page.pk), "primary")]
    elif page.status == "resolved":
        who = page.resolved_by or "automation"
        footer = f"Resolved by {who} at {page.resolved_at:%H:%M} UTC"
    else:
        buttons = [
            Button("page_ack", "Acknowledge", str(page.pk), "primary"),
            Button("page_resolve", "Resolve", str(page.pk)),
            Button("page_escalate", "Escalate", str(page.pk), "danger"),
        ]
    state = f" — {footer}" if footer else ""
    return Message(
        text=f"Page: {page.title}{state}",
        title=f"Page: {page.title}"[:150],
        body=page.summary or "",
        fields=fields,
        buttons=buttons,
        link=("Open page", link),
        footer=footer,
        recipient=recipient,
    )
