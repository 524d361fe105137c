"""What alerts add to the incident room (registered in AlertsConfig.ready): the related alert
groups beside the timeline, and declaring an incident from an alert group
(``/admin/incidents/incident/add/?from=alertgroup:<id>``)."""

from __future__ import annotations

from alerts import permissions, selectors, services
from alerts.models import AlertGroup
from incidents.models import Incident
from incidents.room import Prefill


def panel(incident, request) -> dict | None:
    if not request.user.has_perm("alerts.view_alertgroup"):
        return None
    groups = selectors.groups_for_incident(incident)
    if not groups:
        return None
    return {"groups": groups}


def prefill(pk: int, user) -> Prefill | None:
    if not permissions.can_respond(user):
        return None
    group = AlertGroup.objects.select_related("service", "integration").filter(pk=pk).first()
    if group is None:
        return None
    first = group.alerts.order_by("started_at").first()
    summary = services.page_summary(group)
    return Prefill(
        source=f"alert group #{group.pk}: {group.title}",
        title=f"{group.service.name}: {group.title}"[:200],
        summary=(f"{first.summary}\n\n{summary}" if first else summary)[:4000],
        services=[group.service_id],
        detection_source=Incident.DetectionSource.MONITORING,
    )


def link(pk: int, incident, actor) -> None:
    services.attach_to_incident(group=pk, incident=incident, actor=actor)
