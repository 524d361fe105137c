"""Reads for the public status page. Everything public is built here, from an explicit
allow-list of fields: internal updates, roles, links, notes and non-public services never
reach a template, feed or JSON document because they are never put in the snapshot."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from incidents.models import Incident, StatusUpdate
from probes.models import ProbeResult
from slos import selectors as slo_selectors
from status.models import STATUS_RANK, Component, ComponentStatus, PublicIncident, ScheduledMaintenance

HISTORY_DAYS = 90
OPEN = tuple(Incident.OPEN_STATUSES)

BANNER = {
    ComponentStatus.OPERATIONAL: "All systems operational",
    ComponentStatus.UNDER_MAINTENANCE: "Scheduled maintenance in progress",
    ComponentStatus.DEGRADED_PERFORMANCE: "Some systems are experiencing degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial system outage",
    ComponentStatus.MAJOR_OUTAGE: "Major system outage",
}
# Statuspage's page indicator and incident impact vocabulary.
INDICATOR = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.UNDER_MAINTENANCE: "maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.MAJOR_OUTAGE: "critical",
}
PUBLIC_INCIDENT_STATUS = {
    Incident.Status.INVESTIGATING: "investigating",
    Incident.Status.IDENTIFIED: "identified",
    Incident.Status.MONITORING: "monitoring",
    Incident.Status.RESOLVED: "resolved",
    Incident.Status.CLOSED: "resolved",  # closing is internal bookkeeping
}


def worst(statuses) -> str:
    return max(statuses, key=lambda s: STATUS_RANK[s], default=ComponentStatus.OPERATIONAL)


def severity_impact(level: int) -> str:
    """What an incident of this severity does to the components it affects."""
    if level <= 1:
        return ComponentStatus.MAJOR_OUTAGE
    if level == 2:
        return ComponentStatus.PARTIAL_OUTAGE
    return ComponentStatus.DEGRADED_PERFORMANCE


def incident_impact(*, level: int, status: str) -> str:
    """Component status caused by one incident in its current state: the severity's impact
    while investigating/identified, degraded performance while monitoring a fix, none once
    resolved."""
    if status not in OPEN:
        return ComponentStatus.OPERATIONAL
    if status == Incident.Status.MONITORING:
        return ComponentStatus.DEGRADED_PERFORMANCE
    return severity_impact(level)


def public_incidents():
    """Incidents customers may see. Nothing reaches the public page until a person publishes
    it: an incident is public only when someone wrote its public title (``PublicIncident.
    public_title``, set through ``status.services.set_incident_public``) AND there is a message
    for customers (the customer message or an external update, both written by people), it is
    not a drill, not marked "not public", and touches at least one public component. The
    internal title never appears publicly."""
    external = StatusUpdate.objects.filter(incident=OuterRef("pk"), audience=StatusUpdate.Audience.EXTERNAL)
    return (
        Incident.objects.filter(drill=False, services__status_component__public=True, public__public=True)
        .exclude(public__public_title="")
        .filter(~Q(customer_message="") | Exists(external))
        .distinct()
    )


def public_components():
    return Component.objects.filter(public=True).order_by("group", "order", "name")


def ensure_public_records(incident_ids) -> None:
    """Every public incident gets its PublicIncident row (public id) on first display."""
    from status import services

    services.ensure_public_incidents(incident_ids=incident_ids)


def _external_updates():
    return Prefetch(
        "updates",
        queryset=StatusUpdate.objects.filter(audience=StatusUpdate.Audience.EXTERNAL).order_by(
            "-posted_at", "-id"
        ),
        to_attr="external_updates",
    )


def _public_ids(incidents) -> dict[int, PublicIncident]:
    ids = [i.pk for i in incidents]
    ensure_public_records(ids)
    return {p.incident_id: p for p in PublicIncident.objects.filter(incident_id__in=ids)}


def _incident_dict(incident: Incident, record: PublicIncident, components: dict[int, Component]) -> dict:
    external = list(getattr(incident, "external_updates", []))
    # The customer message is shown above the updates unless it is the text of an update that
    # replaced it (posting "also make this the customer message"): then it shows once, as the update.
    message = incident.customer_message
    if message and any(u.replaced_customer_message and u.text == message for u in external):
        message = ""
    updates = [
        {
            "id": f"{record.public_id}-{u.pk}",
            "status": PUBLIC_INCIDENT_STATUS[u.status],
            "status_display": PUBLIC_INCIDENT_STATUS[u.status].capitalize(),
            "body": u.text,
            "created_at": u.posted_at,
        }
        for u in external
    ]
    affected = sorted(
        (components[s.pk] for s in incident.services.all() if s.pk in components),
        key=lambda c: (c.group, c.order, c.name),
    )
    impact = severity_impact(incident.severity.level)
    status = PUBLIC_INCIDENT_STATUS[incident.status]
    last = max([incident.detected_at] + [u["created_at"] for u in updates])
    if incident.customer_message_updated_at:
        last = max(last, incident.customer_message_updated_at)
    if incident.resolved_at:
        last = max(last, incident.resolved_at)
    return {
        "public_id": record.public_id,
        "title": record.public_title,
        "status": status,
        "status_display": status.capitalize(),
        "is_open": incident.status in OPEN,
        "impact": INDICATOR[impact] if impact != ComponentStatus.OPERATIONAL else "none",
        "impact_status": impact,
        "message": message,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "updated_at": last,
        "components": [{"id": c.public_id, "name": c.name} for c in affected],
        "updates": updates,
    }


def incident_detail(public_id: str) -> dict | None:
    record = PublicIncident.objects.filter(public_id=public_id, public=True).first()
    if record is None:
        return None
    incident = (
        public_incidents()
        .filter(pk=record.incident_id)
        .select_related("severity")
        .prefetch_related("services", _external_updates())
        .first()
    )
    if incident is None:
        return None
    components = {c.service_id: c for c in public_components()}
    return _incident_dict(incident, record, components)


def incidents_between(start: datetime, end: datetime, *, limit: int = 500) -> list[dict]:
    """Public incidents that started in [start, end), newest first (the monthly archive)."""
    incidents = list(
        public_incidents()
        .filter(started_at__gte=start, started_at__lt=end)
        .select_related("severity")
        .prefetch_related("services", _external_updates())
        .order_by("-started_at", "-id")[:limit]
    )
    records = _public_ids(incidents)
    components = {c.service_id: c for c in public_components()}
    return [_incident_dict(i, records[i.pk], components) for i in incidents if i.pk in records]


def recent_external_updates(*, limit: int = 50) -> list[dict]:
    """Newest external updates of public incidents (the feeds)."""
    updates = list(
        StatusUpdate.objects.filter(
            audience=StatusUpdate.Audience.EXTERNAL, incident__in=public_incidents().values("pk")
        )
        .select_related("incident")
        .order_by("-posted_at", "-id")[:limit]
    )
    records = _public_ids({u.incident for u in updates})
    rows = []
    for u in updates:
        record = records.get(u.incident_id)
        if record is None or not record.public:
            continue
        rows.append(
            {
                "id": f"{record.public_id}-{u.pk}",
                "incident_public_id": record.public_id,
                "incident_title": record.public_title,
                "status": PUBLIC_INCIDENT_STATUS[u.status],
                "body": u.text,
                "created_at": u.posted_at,
            }
        )
    return rows


def component_statuses(components, incidents, maintenances, *, now: datetime) -> dict[int, str]:
    """Component pk -> current status: the manual override if set, else the worst of its
    open incidents' impact and running maintenance."""
    causes: dict[int, list[str]] = defaultdict(list)
    by_service = {c.service_id: c for c in components}
    for incident in incidents:
        impact = incident_impact(level=incident.severity.level, status=incident.status)
        for service in incident.services.all():
            if service.pk in by_service:
                causes[by_service[service.pk].pk].append(impact)
    for m in maintenances:
        if m.starts_at <= now < m.ends_at:
            for c in m.components.all():
                causes[c.pk].append(ComponentStatus.UNDER_MAINTENANCE)
    return {c.pk: c.override_status or worst(causes[c.pk]) for c in components}


def _day_bounds(days: list[date]) -> tuple[datetime, datetime]:
    return datetime.combine(days[0], time.min, UTC), datetime.combine(days[-1], time.min, UTC) + timedelta(
        days=1
    )


def daily_history(components, *, now: datetime, days: int = HISTORY_DAYS) -> dict[int, dict]:
    """Component pk -> {"days": [{date, status, uptime}], "uptime": float|None}.

    Status per UTC day is the worst impact of public incidents (from impact start to
    resolution) and maintenance overlapping that day; uptime % per day is the share of
    available probe results (up or degraded) of the probes covering the component's service."""
    today = now.astimezone(UTC).date()
    day_list = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    start, end = _day_bounds(day_list)
    index = {d: n for n, d in enumerate(day_list)}
    by_service = {c.service_id: c for c in components}
    worst_by = {c.pk: [ComponentStatus.OPERATIONAL] * days for c in components}

    def mark(component_pk: int, since: datetime, until: datetime, status: str) -> None:
        first = max(since, start).astimezone(UTC).date()
        last = min(until, end - timedelta(microseconds=1)).astimezone(UTC).date()
        bars = worst_by[component_pk]
        d = first
        while d <= last:
            n = index.get(d)
            if n is not None and STATUS_RANK[status] > STATUS_RANK[bars[n]]:
                bars[n] = status
            d += timedelta(days=1)

    history = (
        public_incidents()
        .filter(started_at__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .select_related("severity")
        .prefetch_related("services")
    )
    for incident in history:
        until = incident.resolved_at or now
        impact = severity_impact(incident.severity.level)
        for service in incident.services.all():
            if service.pk in by_service:
                mark(by_service[service.pk].pk, incident.started_at, until, impact)
    maintenance = ScheduledMaintenance.objects.filter(
        cancelled=False, starts_at__lt=min(end, now), ends_at__gt=start
    ).prefetch_related("components")
    for m in maintenance:
        for c in m.components.all():
            if c.pk in worst_by:
                mark(c.pk, m.starts_at, min(m.ends_at, now), ComponentStatus.UNDER_MAINTENANCE)

    # One grouped query: (service, UTC day) -> results, available results.
    counts: dict[tuple[int, date], tuple[int, int]] = {}
    rows = (
        ProbeResult.objects.filter(
            probe__service_id__in=list(by_service), checked_at__gte=start, checked_at__lt=end
        )
        .annotate(day=TruncDate("checked_at", tzinfo=UTC))
        .values("probe__service_id", "day")
        .annotate(total=Count("id"), up=Count("id", filter=Q(ok=True)))
    )
    for row in rows:
        counts[(row["probe__service_id"], row["day"])] = (row["total"], row["up"])
    # Components whose uptime comes from an SLO's SLI (slos rollups): one grouped query.
    slo_counts = slo_selectors.daily_counts(
        [c.uptime_slo_id for c in components if c.uptime_slo_id], start, end
    )

    result = {}
    for c in components:
        bars, total_all, up_all = [], 0, 0
        for n, d in enumerate(day_list):
            if c.uptime_slo_id:
                total, up = slo_counts.get((c.uptime_slo_id, d), (0, 0))
            else:
                total, up = counts.get((c.service_id, d), (0, 0))
            total_all += total
            up_all += up
            status = worst_by[c.pk][n]
            bars.append(
                {
                    "date": d,
                    "status": status,
                    "status_display": ComponentStatus(status).label,
                    "uptime": round(100.0 * up / total, 2) if total else None,
                    # a plain green day needs no markup beyond the bar (keeps the page small)
                    "plain": status == ComponentStatus.OPERATIONAL and (not total or up == total),
                }
            )
        result[c.pk] = {"days": bars, "uptime": round(100.0 * up_all / total_all, 2) if total_all else None}
    return result


def snapshot(*, now: datetime | None = None) -> dict:
    """Everything the public page and summary.json show, as plain data."""
    now = now or timezone.now()
    components = list(public_components().select_related(None))
    incidents = list(
        public_incidents()
        .filter(status__in=OPEN)
        .select_related("severity")
        .prefetch_related("services", _external_updates())
        .order_by("-started_at", "-id")
    )
    maintenances = list(
        ScheduledMaintenance.objects.filter(cancelled=False, ends_at__gt=now)
        .prefetch_related(Prefetch("components", queryset=Component.objects.filter(public=True)))
        .order_by("starts_at")
    )
    statuses = component_statuses(components, incidents, maintenances, now=now)
    history = daily_history(components, now=now)
    records = _public_ids(incidents)
    by_service = {c.service_id: c for c in components}

    groups: dict[str, list[dict]] = {}
    component_rows = []
    for position, c in enumerate(components, start=1):
        status = statuses[c.pk]
        row = {
            "id": c.public_id,
            "name": c.name,
            "description": c.description,
            "group": c.group,
            "position": position,
            "status": status,
            "status_display": ComponentStatus(status).label
            if history[c.pk]["uptime"] is not None or status != ComponentStatus.OPERATIONAL
            else "No data",
            # no probe result in the period and nothing reported: we do not know it is up
            "has_data": history[c.pk]["uptime"] is not None or status != ComponentStatus.OPERATIONAL,
            "updated_at": max(c.updated_at, c.override_at or c.updated_at),
            "days": history[c.pk]["days"],
            "incident_days": [d for d in history[c.pk]["days"] if d["status"] != ComponentStatus.OPERATIONAL],
            "uptime": history[c.pk]["uptime"],
        }
        component_rows.append(row)
        groups.setdefault(c.group, []).append(row)
    overall = worst(statuses.values())
    maintenance_rows = [
        {
            "id": m.public_id,
            "name": m.title,
            "description": m.description,
            "starts_at": m.starts_at,
            "ends_at": m.ends_at,
            "in_progress": m.starts_at <= now,
            "status": "in_progress" if m.starts_at <= now else "scheduled",
            "components": [{"id": c.public_id, "name": c.name} for c in m.components.all()],
        }
        for m in maintenances
    ]
    return {
        "built_at": now,
        "overall": overall,
        "indicator": INDICATOR[overall],
        "banner": BANNER[overall],
        "components": component_rows,
        "groups": [{"name": name, "components": rows} for name, rows in groups.items()],
        "incidents": [_incident_dict(i, records[i.pk], by_service) for i in incidents if i.pk in records],
        "maintenances": maintenance_rows,
        "history_days": HISTORY_DAYS,
    }


def archive_months(*, now: datetime | None = None, months: int = 12) -> list[date]:
    now = now or timezone.now()
    first = now.astimezone(UTC).date().replace(day=1)
    result = []
    for _ in range(months):
        result.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return result
