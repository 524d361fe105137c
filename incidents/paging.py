"""Incidents <-> on-call paging (incidents is layer 2 and may call oncall, layer 1).

- Declaring an incident at a paging severity, or raising it to one, opens a page for the
  primary service's escalation policy in the SAME transaction as the incident (the page and
  its level-1 notifications are outbox rows; delivery starts on commit), so a crash between
  the two can never leave an incident that pages nobody.
- Acknowledging that page (one-click link, admin, API) acknowledges the incident and makes
  the acknowledger commander if there is none: oncall tells us through its
  ``page_acknowledged`` signal, connected in ``IncidentsConfig.ready()``.
- Resolving the incident resolves its open pages: nobody keeps escalating a fixed problem.
"""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from incidents.models import Incident, TimelineEvent
from opsportal.errors import Conflict, NotAllowed, ServiceError
from opsportal.links import absolute_url

log = logging.getLogger(__name__)


def dedup_key(incident: Incident) -> str:
    return f"incident:{incident.pk}"


def open_incident_page(incident: Incident, reason: str) -> None:
    """Page on-call for ``incident``; a page already open for it is reused (dedup key)."""
    from incidents.services import add_timeline_event
    from oncall.services import open_page

    service = incident.primary_service or incident.services.order_by("pk").first()
    prefix = "[DRILL] " if incident.drill else ""
    try:
        with transaction.atomic():  # a savepoint: a paging refusal never undoes the incident
            page = open_page(
                title=f"{prefix}{incident.reference} {incident.severity} - {incident.title}",
                summary=incident.summary or incident.customer_impact or "",
                url=absolute_url(incident.get_absolute_url()),
                service=service,
                subject=incident,
                dedup_key=dedup_key(incident),
            )
    except ServiceError as exc:
        log.warning("could not page on-call for %s: %s", incident.reference, exc.message)
        add_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.PAGE,
            text=f"On-call was NOT paged: {exc.message}",
        )
        return
    add_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.PAGE,
        related=page,
        text=f"Paged on-call ({'severity raised' if reason == 'severity_raised' else 'declared'}): "
        f"escalation policy {page.policy}.",
    )


def resolve_incident_pages(incident: Incident, actor) -> None:
    from oncall.models import Page
    from oncall.services import resolve_page

    open_pages = Page.objects.filter(
        subject_type=ContentType.objects.get_for_model(Incident),
        subject_id=str(incident.pk),
        status__in=Page.OPEN,
    )
    for page in open_pages:
        try:
            resolve_page(page=page, user=actor, reason=f"{incident.reference} resolved")
        except Conflict:
            continue  # resolved concurrently: nothing left to stop


def on_page_acknowledged(sender, page, user, at, **kwargs) -> None:
    """Receiver for ``oncall.signals.page_acknowledged`` (runs after the page committed)."""
    from incidents.services import acknowledge, add_timeline_event, take_command

    if page.subject_type_id != ContentType.objects.get_for_model(Incident).pk:
        return
    incident = Incident.objects.filter(pk=page.subject_id).first()
    if incident is None or not incident.is_open:
        return
    try:
        with transaction.atomic():
            if incident.acknowledged_at is None:
                acknowledge(incident=incident, actor=user, at=at)
            elif incident.commander_id is None:
                take_command(incident=incident, actor=user)
    except Conflict:
        return  # someone acknowledged the incident itself first: nothing to do
    except NotAllowed as exc:
        # The person on call is not in a role that may act on incidents: record it.
        add_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.PAGE,
            text=f"{user} acknowledged the page but cannot act on incidents ({exc.message}).",
        )
