"""What support escalations add to the incident room (registered in EscalationsConfig.ready):
the escalations linked to the incident with how many customers reported it, and declaring an
incident from an escalation (``/admin/incidents/incident/add/?from=escalation:<id>``)."""

from __future__ import annotations

from django.db.models import Sum

from escalations import permissions, services
from escalations.models import Escalation
from incidents.models import Incident
from incidents.room import Prefill


def panel(incident, request) -> dict | None:
    if not permissions.can_triage(request.user):
        return None
    rows = (
        Escalation.objects.filter(incident_id=incident.pk).select_related("service").order_by("-created_at")
    )
    total = rows.aggregate(n=Sum("customers_reporting"))["n"] or 0
    shown = list(rows[:10])
    if not shown and not incident.reported_customers:
        return {"rows": [], "customers": 0, "count": 0}
    return {"rows": shown, "customers": max(total, incident.reported_customers), "count": rows.count()}


def prefill(pk: int, user) -> Prefill | None:
    if not permissions.can_triage(user):
        return None
    esc = Escalation.objects.select_related("service").filter(pk=pk).first()
    if esc is None:
        return None
    first_line = (esc.summary.strip().splitlines() or [""])[0]
    title = f"{esc.service.name}: {first_line}" if esc.service_id else first_line
    return Prefill(
        source=f"support escalation {esc.reference} ({esc.customer})",
        title=title[:200],
        summary=f"Reported by support for {esc.customer} ({esc.customers_reporting} customer(s)).",
        services=[esc.service_id] if esc.service_id else [],
        detection_source=Incident.DetectionSource.SUPPORT,
        customer_impact=esc.summary,
    )


def link(pk: int, incident, actor) -> None:
    """The escalation declared from joins its new incident (its customers are counted)."""
    services.link_to_incident(escalation=pk, incident=incident, actor=actor)
