"""Incidents <-> on-call paging (incidents is layer 2 and may call oncall, layer 1).

- Declaring an incident at a paging severity, raising it to one, or reopening it at one opens
  a page for the primary service's escalation policy in the SAME transaction as the incident
  (the page and its level-1 notifications are outbox rows; delivery starts on commit), so a
  crash between the two can never leave an incident that pages nobody.

The incident and its open pages settle each other, in both directions (like PagerDuty):

================================  ============================================================
incident side                     page side
================================  ============================================================
acknowledged (admin action or     its triggered or exhausted pages are acknowledged by the same
button, API; identify and         person, ``via="incident"``: escalation stops. Also when the
mitigate acknowledge first)       incident was acknowledged earlier and a page re-triggered
                                  since (its acknowledgement timed out, or a reopen paged again)
mitigated                         pages still triggered are acknowledged (as above)
resolved                          open pages resolved ("INC-1042 resolved")
acknowledged <- (signal)          a page acknowledged by a person (link, admin, API)
                                  acknowledges the incident if it was not (and makes them
                                  commander if none): ``oncall.signals.page_acknowledged``
resolved <- (signal)              a page resolved by a person (admin, API) resolves the open
                                  incident: ``oncall.signals.page_resolved``. Automation
                                  resolving a page (a recovered probe sharing it) does not.
================================  ============================================================

Both signals are connected in ``IncidentsConfig.ready()`` and run after the page committed.
Nothing ping-pongs: each side acts only on what the other has not settled yet, so an
acknowledgement leaves one *acknowledged* timeline entry and one page event whichever door
was used. An acknowledgement that finds the other side already acknowledged through its
counterpart is answered with the current state, not a Conflict (``oncall.services``
``SUBJECT_VIAS`` and ``services.acknowledge``); two people racing through the same door
still get "already acknowledged by X". A page that re-triggers on its acknowledgement timeout
does not touch the incident: its first acknowledgement stays, and acknowledging the page again
changes nothing on the incident.
"""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from incidents.models import Incident, TimelineEvent
from oncall import services as oncall_services
from oncall.models import Page
from opsportal.errors import Conflict, NotAllowed, ServiceError
from opsportal.links import absolute_url

log = logging.getLogger(__name__)


_REASONS = {"declared": "declared", "severity_raised": "severity raised", "reopened": "reopened"}


def dedup_key(incident: Incident) -> str:
    return f"incident:{incident.pk}"


def open_incident_page(incident: Incident, reason: str) -> None:
    """Page on-call for ``incident``; a page already open for it is reused (dedup key)."""
    from incidents.services import add_timeline_event  # services imports this module

    service = incident.primary_service or incident.services.order_by("pk").first()
    prefix = "[DRILL] " if incident.drill else ""
    try:
        with transaction.atomic():  # a savepoint: a paging refusal never undoes the incident
            page = oncall_services.open_page(
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
        text=f"Paged on-call ({_REASONS.get(reason, reason)}): escalation policy {page.policy}.",
    )


def _open_pages(incident: Incident, statuses) -> list[Page]:
    return list(
        Page.objects.filter(
            subject_type=ContentType.objects.get_for_model(Incident),
            subject_id=str(incident.pk),
            status__in=statuses,
        ).order_by("pk")
    )


def acknowledge_incident_pages(incident: Incident, actor) -> int:
    """Acknowledge the incident's pages that are still calling people (triggered or exhausted)
    as ``actor``, ``via="incident"``. Returns how many it acknowledged."""
    done = 0
    for page in _open_pages(incident, [Page.Status.TRIGGERED, Page.Status.EXHAUSTED]):
        try:
            oncall_services.acknowledge_page(page=page, user=actor, via="incident")
        except Conflict:
            continue  # resolved meanwhile: nothing left to stop
        done += 1
    return done


def _resolved_with(incident: Incident) -> str:
    return f"{incident.reference} resolved"


def resolve_incident_pages(incident: Incident, actor) -> None:
    for page in _open_pages(incident, Page.OPEN):
        try:
            oncall_services.resolve_page(page=page, user=actor, reason=_resolved_with(incident))
        except Conflict:
            continue  # resolved concurrently: nothing left to stop


def _subject_incident(page) -> Incident | None:
    if page.subject_type_id != ContentType.objects.get_for_model(Incident).pk:
        return None
    incident = Incident.objects.filter(pk=page.subject_id).first()
    if incident is None or not incident.is_open:
        return None
    return incident


def _cannot_act(incident: Incident, text: str) -> None:
    from incidents.services import add_timeline_event  # services imports this module

    add_timeline_event(incident=incident, kind=TimelineEvent.Kind.PAGE, text=text)


def on_page_acknowledged(sender, page, user, at, **kwargs) -> None:
    """Receiver for ``oncall.signals.page_acknowledged`` (runs after the page committed)."""
    from incidents.services import acknowledge, take_command

    if page.acknowledged_via == "incident":
        return  # our own acknowledgement coming back
    incident = _subject_incident(page)
    if incident is None:
        return
    try:
        with transaction.atomic():
            if incident.acknowledged_at is None:
                acknowledge(incident=incident, actor=user, at=at, from_page=True)
            elif incident.commander_id is None:
                take_command(incident=incident, actor=user)
    except Conflict:
        return  # someone acknowledged the incident itself first: nothing to do
    except NotAllowed as exc:
        # The person on call is not in a role that may act on incidents: record it.
        _cannot_act(incident, f"{user} acknowledged the page but cannot act on incidents ({exc.message}).")


def on_page_resolved(sender, page, user, at, reason: str = "", **kwargs) -> None:
    """Receiver for ``oncall.signals.page_resolved``: a person resolving the incident's page
    resolves the incident (acknowledging it first if nobody had). Automation (``user`` None)
    settles nothing here."""
    from incidents.services import resolve

    if user is None:
        return
    incident = _subject_incident(page)
    if incident is None or reason == _resolved_with(incident):
        return  # nothing open, or our own resolution coming back (even after a reopen)
    note = "Resolved from its on-call page" + (f": {reason.strip()}" if reason.strip() else ".")
    try:
        with transaction.atomic():
            resolve(incident=incident, actor=user, at=at, note=note)
    except Conflict:
        return  # resolved through the incident itself (which resolved this page): done
    except NotAllowed as exc:
        _cannot_act(incident, f"{user} resolved the page but cannot act on incidents ({exc.message}).")
