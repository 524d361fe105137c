"""Reads over incidents: lists, the support view, timelines and their Markdown export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from catalog.models import Service
from incidents.models import Incident, StatusUpdate, TimelineEvent


def incident_list() -> QuerySet[Incident]:
    """Incidents with everything a list row shows, in a constant number of queries
    (one for the rows, one for their services)."""
    return Incident.objects.select_related(
        "severity", "peak_severity", "commander", "owning_team", "primary_service", "comms_lead", "scribe"
    ).prefetch_related(
        Prefetch("services", queryset=Service.objects.only("id", "name", "slug").order_by("name"))
    )


def incident_detail() -> QuerySet[Incident]:
    """Incidents with their linked runbooks too (API responses): one more query."""
    return incident_list().prefetch_related("runbooks")


def open_incidents() -> QuerySet[Incident]:
    return incident_list().open().order_by("severity__level", "-detected_at")


@dataclass(frozen=True)
class SupportIncident:
    """What support may know about an open incident - and nothing else."""

    id: int
    number: int
    reference: str
    title: str
    status: str
    status_display: str
    services: tuple[str, ...]
    customer_message: str
    customer_message_updated_at: datetime | None


def support_queryset() -> QuerySet[Incident]:
    """The rows behind support's view (only the columns it may see); map them with ``as_support``."""
    return (
        Incident.objects.open()
        .real()
        .only("id", "number", "title", "status", "customer_message", "customer_message_updated_at")
        .prefetch_related(Prefetch("services", queryset=Service.objects.only("id", "name").order_by("name")))
        .order_by("-detected_at", "-id")
    )


def as_support(incident: Incident) -> SupportIncident:
    return SupportIncident(
        id=incident.pk,
        number=incident.number,
        reference=incident.reference,
        title=incident.title,
        status=incident.status,
        status_display=incident.get_status_display(),
        services=tuple(s.name for s in incident.services.all()),
        customer_message=incident.customer_message,
        customer_message_updated_at=incident.customer_message_updated_at,
    )


def open_incidents_for_support() -> list[SupportIncident]:
    """Open, real (not drill) incidents as support sees them: title, status, services and the
    approved customer message. Two queries whatever the number of incidents."""
    return [as_support(i) for i in support_queryset()]


def open_incident_for_support(pk: int) -> SupportIncident | None:
    incident = support_queryset().filter(pk=pk).first()
    return as_support(incident) if incident else None


def timeline(incident: Incident) -> QuerySet[TimelineEvent]:
    """The incident's story, oldest first (ties in recording order)."""
    return (
        TimelineEvent.objects.filter(incident=incident).select_related("actor").order_by("occurred_at", "id")
    )


def updates(incident: Incident) -> QuerySet[StatusUpdate]:
    return (
        StatusUpdate.objects.filter(incident=incident).select_related("author").order_by("-posted_at", "-id")
    )


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def timeline_markdown(incident: Incident, *, tz=None) -> str:
    """The timeline as a Markdown document for the postmortem (times in ``tz``, default UTC)."""
    from datetime import UTC

    tz = tz or UTC
    severity = incident.severity
    lines = [
        f"# {incident.reference}: {incident.title}",
        "",
        f"- Severity: {severity.label} ({severity.name})",
        f"- Status: {incident.get_status_display()}",
        f"- Services: {', '.join(s.name for s in incident.services.all()) or '-'}",
        f"- Commander: {incident.commander or '-'}",
    ]
    if incident.drill:
        lines.append("- Drill: yes (excluded from metrics)")
    for label, value in (
        ("Impact started", incident.started_at),
        ("Detected", incident.detected_at),
        ("Acknowledged", incident.acknowledged_at),
        ("Mitigated", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ):
        if value is not None:
            lines.append(f"- {label}: {value.astimezone(tz):%Y-%m-%d %H:%M %Z}")
    lines += ["", "## Timeline", "", "| Time | Event | By | Details |", "|---|---|---|---|"]
    for event in timeline(incident):
        lines.append(
            f"| {event.occurred_at.astimezone(tz):%Y-%m-%d %H:%M} | {event.get_kind_display()} | "
            f"{_md_escape(str(event.actor) if event.actor else 'automation')} | {_md_escape(event.text)} |"
        )
    return "\n".join(lines) + "\n"


def update_state(incident: Incident, now: datetime | None = None) -> tuple[str, datetime | None]:
    """("none" | "due" | "overdue", due time) for the status-update cadence."""
    due = incident.next_update_due_at()
    if due is None:
        return "none", None
    now = now or timezone.now()
    return ("overdue" if due < now else "due"), due
