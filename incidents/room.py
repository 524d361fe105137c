"""Extension points of the incident room (the incident's admin change page).

The room is owned by ``incidents`` (layer 2), but higher layers know things about an incident
that belong beside it: deployments suggest what likely caused it, the Slack adapter shows its
channel, alerts show the related alert groups, status shows what customers see, escalations
show the support reports. Those apps must not be imported from here (a lower layer never
imports a higher one), so they register into this module from their ``AppConfig.ready()``.

Side panels
    ``register_room_panel(name, template, context_fn, order=100)``::

        # deployments/apps.py
        def ready(self):
            from incidents.room import register_room_panel
            from deployments.room import likely_causes

            register_room_panel(
                "deployments", "admin/deployments/room_panel.html", likely_causes, order=20
            )

    ``context_fn(incident, request) -> dict | None`` returns the template's context (the room
    adds ``incident`` and ``request``); ``None`` hides the panel for this incident. Panels
    render in the room's side column in ascending ``order`` (ties by name). A panel that raises
    is logged and skipped: one broken panel never takes the room down. Registering the same
    ``name`` twice replaces the earlier registration (so ``ready()`` running twice in tests is
    harmless). Built-in panels use orders 10-50 (roles, services, pages, runbooks, postmortem).

Close remedies
    ``register_close_remedy(fn)``: when closing is refused (a close guard said no), the refusal
    message offers each remedy as a button. ``fn(incident, user) -> Remedy | None``; a remedy
    with ``method="post"`` renders a one-button form (with the CSRF token) posting to ``url``.
    ``postmortems`` registers "Start postmortem" / "Open postmortem" this way.

Declare sources
    ``register_declare_source(kind, prefill, link=None)``: ``/admin/incidents/incident/add/
    ?from=<kind>:<id>`` prefills the declare form from that object. ``prefill(pk, user)``
    returns a :class:`Prefill` (or ``None`` when the object does not exist or the user may not
    see it - the form then opens empty with a warning); ``link(pk, incident, actor)`` runs in
    the declaring transaction after the incident exists (e.g. attach the escalation to it).
    ``incidents`` registers ``page`` itself; ``escalations`` registers ``escalation``; the
    alerts app registers ``alertgroup``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

log = logging.getLogger(__name__)


# --- side panels ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RoomPanel:
    name: str
    template: str
    context_fn: Callable[[Any, Any], dict | None]
    order: int = 100


_PANELS: dict[str, RoomPanel] = {}


def register_room_panel(
    name: str, template: str, context_fn: Callable[[Any, Any], dict | None], order: int = 100
) -> RoomPanel:
    """Show ``template`` in every incident room's side column (see the module docstring)."""
    panel = RoomPanel(name=name, template=template, context_fn=context_fn, order=order)
    _PANELS[name] = panel
    return panel


def unregister_room_panel(name: str) -> None:
    _PANELS.pop(name, None)


def room_panels() -> list[RoomPanel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.name))


def render_panels(incident, request) -> list[dict]:
    """``[{"name", "html"}]`` of the panels that have something to say about ``incident``."""
    out = []
    for panel in room_panels():
        try:
            context = panel.context_fn(incident, request)
            if context is None:
                continue
            html = render_to_string(
                panel.template, {**context, "incident": incident, "request": request}, request=request
            )
        except Exception:  # a broken panel is logged and skipped, never a 500 in the room
            log.exception("incident room panel %s failed for incident %s", panel.name, incident.pk)
            continue
        out.append({"name": panel.name, "html": html})
    return out


# --- close remedies -------------------------------------------------------------------------
@dataclass(frozen=True)
class Remedy:
    label: str
    url: str
    method: str = "get"  # "get": a link; "post": a one-button form


CloseRemedy = Callable[[Any, Any], Remedy | None]
_REMEDIES: list[CloseRemedy] = []


def register_close_remedy(fn: CloseRemedy) -> CloseRemedy:
    if fn not in _REMEDIES:
        _REMEDIES.append(fn)
    return fn


def close_remedies(incident, user) -> list[Remedy]:
    out = []
    for fn in _REMEDIES:
        try:
            remedy = fn(incident, user)
        except Exception:
            log.exception("close remedy %r failed for incident %s", fn, incident.pk)
            continue
        if remedy is not None:
            out.append(remedy)
    return out


# --- declare sources ------------------------------------------------------------------------
@dataclass
class Prefill:
    """What the declare form starts with when declared from another object."""

    source: str  # shown above the form, e.g. "Page #12: api-gateway down"
    title: str = ""
    summary: str = ""
    services: list[int] = field(default_factory=list)
    severity: int | None = None  # a level (1-4); None leaves the choice to the person
    detection_source: str = ""
    customer_impact: str = ""


@dataclass(frozen=True)
class DeclareSource:
    kind: str
    prefill: Callable[[int, Any], Prefill | None]
    link: Callable[[int, Any, Any], None] | None = None


_SOURCES: dict[str, DeclareSource] = {}


def register_declare_source(
    kind: str,
    prefill: Callable[[int, Any], Prefill | None],
    link: Callable[[int, Any, Any], None] | None = None,
) -> DeclareSource:
    source = DeclareSource(kind=kind, prefill=prefill, link=link)
    _SOURCES[kind] = source
    return source


def declare_source(kind: str) -> DeclareSource | None:
    return _SOURCES.get(kind)


def parse_from(value: str | None) -> tuple[DeclareSource, int] | None:
    """``"page:12"`` -> (the page source, 12); anything malformed or unknown -> None."""
    from opsportal.parsing import parse_id

    kind, sep, raw = (value or "").partition(":")
    if not sep:
        return None
    source = _SOURCES.get(kind.strip().lower())
    pk = parse_id(raw.strip())
    if source is None or pk is None:
        return None
    return source, pk
