"""Demo: the open incidents have their Slack channels (in a demo workspace, so links go
nowhere real), and a message someone marked in the channel is on the SEV-2's timeline.

Written directly as the adapter would have after talking to Slack (chat is off in the demo:
no ``CHAT_PROVIDER``); the channel link and the timeline go through ``incidents.services``.
Idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from chat import render
from chat.models import IncidentChannel, Provider, TimelineLink
from incidents import services as incident_services
from incidents.models import TimelineEvent

WORKSPACE = "https://acme-demo.slack.com"


def seed(ctx) -> str:
    incidents = getattr(ctx, "open_incidents", [])
    made = 0
    for index, incident in enumerate(incidents):
        channel_id = f"C0DEMO{incident.number:05d}"
        channel, created = IncidentChannel.objects.get_or_create(
            incident=incident,
            defaults={
                "provider": Provider.SLACK,
                "status": IncidentChannel.Status.ACTIVE,
                "name": render.channel_name(incident),
                "channel_id": channel_id,
                "url": f"{WORKSPACE}/archives/{channel_id}",
                "members": ["U0DEMOMAYA", "U0DEMORAVI", "U0DEMOOMAR"],
                "topic": render.topic(incident),
                "card_ts": f"{int(incident.detected_at.timestamp())}.000100",
                "card_pinned": True,
                "ready_at": incident.detected_at + timedelta(seconds=4),
            },
        )
        made += created
        if created:
            with incident_services.quiet():
                incident_services.link_chat_channel(incident=incident, url=channel.url, name=channel.name)
        if index == 0:
            _marked_message(incident, channel, ctx)
    return f"{made} Slack channel(s)"


def _marked_message(incident, channel: IncidentChannel, ctx) -> None:
    said_at = min(incident.detected_at + timedelta(minutes=12), timezone.now())
    ts = f"{int(said_at.timestamp())}.000200"
    _link, created = TimelineLink.objects.get_or_create(
        provider=Provider.SLACK, channel_id=channel.channel_id, ts=ts, defaults={"incident": incident}
    )
    if not created:
        return
    author = ctx.users.get("ravi") if hasattr(ctx, "users") else None
    with incident_services.quiet():
        incident_services.add_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.NOTE,
            text=f"{author or 'A responder'} in chat: queue depth is falling since the consumer restart, "
            "~4k webhooks left",
            actor=author,
            occurred_at=said_at,
            data={"source": "slack", "channel": channel.channel_id, "ts": ts},
        )
