"""What postmortems add to the incident room (registered in PostmortemsConfig.ready)."""

from __future__ import annotations

from django.urls import reverse

from incidents.room import Remedy
from postmortems import permissions
from postmortems.models import Postmortem


def _postmortem(incident) -> Postmortem | None:
    return Postmortem.objects.filter(incident_id=incident.pk).select_related("owner", "reviewer").first()


def remedy(incident, user) -> Remedy | None:
    """ "Start postmortem" for a resolved incident without one; "Open postmortem" while its
    postmortem is not published yet; nothing otherwise."""
    if incident.is_open or not permissions.can_write(user):
        return None
    pm = _postmortem(incident)
    if pm is None:
        url = reverse("admin:postmortems_postmortem_start_from_incident", args=[incident.pk])
        return Remedy(label="Start postmortem", url=url, method="post")
    if pm.status != Postmortem.Status.PUBLISHED:
        return Remedy(
            label="Open postmortem", url=reverse("admin:postmortems_postmortem_change", args=[pm.pk])
        )
    return None


def panel(incident, request) -> dict | None:
    pm = _postmortem(incident)
    if pm is None:
        required = incident.peak_severity.postmortem_required
        if incident.is_open and not required:
            return None
        return {"pm": None, "required": required}
    return {"pm": pm, "required": incident.peak_severity.postmortem_required}
