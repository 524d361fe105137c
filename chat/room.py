"""The incident room's "Slack channel" panel: a link to the channel, or "Slack channel pending"
while the workspace is unreachable (the outbox creates the channel when it is back).

The room is rebuilt elsewhere (issue 21) with a panel registry,
``incidents.room.register_room_panel(...)``; ``register()`` adds this panel to it when that
registry exists. ``panel(incident)`` is the whole contract: a dict for
``templates/chat/room_panel.html``, or None when the incident has no chat channel.
"""

from __future__ import annotations

import logging

from chat import conf
from chat.models import IncidentChannel, Provider

log = logging.getLogger(__name__)

TEMPLATE = "chat/room_panel.html"


def panel(incident) -> dict | None:
    row = IncidentChannel.objects.filter(incident=incident).first()
    if row is None:
        return None
    product = Provider(row.provider).label
    if row.status == IncidentChannel.Status.PENDING:
        return {
            "title": f"{product} channel",
            "state": "pending",
            "text": f"{product} channel pending",
            "detail": f"#{row.name} is created as soon as {product} answers.",
            "url": "",
        }
    return {
        "title": f"{product} channel",
        "state": row.status,
        "text": f"#{row.name}" + (" (archived)" if row.status == IncidentChannel.Status.ARCHIVED else ""),
        "detail": f"{conf.command_name()} help lists the commands.",
        "url": row.url,
    }


def _context(incident) -> dict | None:
    data = panel(incident)
    return None if data is None else {"panel": data}


def register() -> bool:
    try:
        from incidents import room  # type: ignore[attr-defined]
    except ImportError:
        return False
    register_panel = getattr(room, "register_room_panel", None)
    if register_panel is None:
        return False
    try:
        register_panel("chat-channel", TEMPLATE, lambda incident, request: _context(incident), order=15)
    except TypeError:
        log.warning("chat: incidents.room.register_room_panel has another signature; panel not registered")
        return False
    return True
