"""Reads for the support pages, the API and the triage admin (bounded, constant queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from catalog.models import Service
from escalations.models import Escalation
from incidents.models import Incident, StatusUpdate
from oncall.selectors import resolve_levels, snapshot


@dataclass(frozen=True)
class PublicIncident:
    """What support may know about an incident: its public fields, nothing internal."""

    id: int
    reference: str
    title: str
    severity: str
    severity_name: str
    status: str
    status_display: str
    services: tuple[str, ...]
    customer_message: str
    last_update_at: datetime
    service_ids: tuple[int, ...] = ()


def open_incidents() -> list[PublicIncident]:
    """Open, real incidents for the support banner and the attach choice. Two queries."""
    rows = (
        Incident.objects.open()
        .real()
        .select_related("severity")
        .only(
            "id",
            "number",
            "title",
            "status",
            "customer_message",
            "customer_message_updated_at",
            "last_update_at",
            "detected_at",
            "severity__level",
            "severity__name",
        )
        .prefetch_related(Prefetch("services", queryset=Service.objects.only("id", "name").order_by("name")))
        .order_by("severity__level", "-detected_at", "-id")
    )
    return [
        PublicIncident(
            id=i.pk,
            reference=i.reference,
            title=i.title,
            severity=i.severity.label,
            severity_name=i.severity.name,
            status=i.status,
            status_display=i.get_status_display(),
            services=tuple(s.name for s in i.services.all()),
            service_ids=tuple(s.pk for s in i.services.all()),
            customer_message=i.customer_message,
            last_update_at=max(
                t for t in (i.detected_at, i.last_update_at, i.customer_message_updated_at) if t is not None
            ),
        )
        for i in rows
    ]


def services_by_team() -> list[tuple[str, list[tuple[int, str]]]]:
    """[(team name, [(service id, service name), ...]), ...] for the grouped service choice."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, name, team in Service.objects.order_by("owner_team__name", "name").values_list(
        "pk", "name", "owner_team__name"
    ):
        groups.setdefault(team, []).append((pk, name))
    return list(groups.items())


def own_escalations(user) -> QuerySet[Escalation]:
    """The agent's own escalations, newest first, with everything a row shows."""
    return (
        Escalation.objects.filter(reporter=user)
        .select_related("service", "acknowledged_by", "resolved_by", "incident", "incident__severity")
        .order_by("-created_at", "-id")
    )


def latest_external_updates(incident_ids) -> dict[int, StatusUpdate]:
    """incident id -> its newest external (customer-facing) status update. One query."""
    ids = {i for i in incident_ids if i is not None}
    if not ids:
        return {}
    latest: dict[int, StatusUpdate] = {}
    rows = (
        StatusUpdate.objects.filter(incident_id__in=ids, audience=StatusUpdate.Audience.EXTERNAL)
        .only("id", "incident_id", "text", "posted_at")
        .order_by("incident_id", "-posted_at", "-id")
    )
    for update in rows:
        latest.setdefault(update.incident_id, update)
    return latest


def recent_duplicate(*, customer: str, service_id: int | None, within_minutes: int, now: datetime):
    """The newest escalation for the same customer (case-insensitive) and service filed in the
    last ``within_minutes`` (the support form asks before filing a second one), or None."""
    if within_minutes <= 0 or not (customer or "").strip():
        return None
    return (
        Escalation.objects.filter(
            customer__iexact=customer.strip(),
            service_id=service_id,
            created_at__gte=now - timedelta(minutes=within_minutes),
        )
        .select_related("service", "reporter")
        .order_by("-created_at", "-id")
        .first()
    )


def routed_to(escalation: Escalation) -> tuple[str, list]:
    """(team name, people on call now at the first level) of the policy an escalation went
    to: what support tells the customer, rather than the policy's name."""
    policy = escalation.policy
    if policy is None:
        return "", []
    team = policy.team.name if policy.team_id else policy.name
    levels = resolve_levels(snapshot(policy)["levels"], timezone.now())
    return team, list(levels[0].users) if levels else []


def triage_list() -> QuerySet[Escalation]:
    return Escalation.objects.select_related("service", "reporter", "acknowledged_by", "incident", "policy")
