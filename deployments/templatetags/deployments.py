"""``{% deployment_causes incident %}``: the "likely caused by" panel as a template tag, for a
page other than the incident room (the room registers ``deployments.room.likely_causes``)."""

from __future__ import annotations

from django import template

from deployments import permissions, selectors

register = template.Library()


@register.inclusion_tag("deployments/incident_causes.html", takes_context=True)
def deployment_causes(context, incident):
    request = context.get("request")
    user = getattr(request, "user", None)
    if incident is None or not permissions.can_view(user):
        return {"visible": False}
    return {
        "visible": True,
        "incident": incident,
        "suggestions": selectors.suggestions(incident),
        "can_decide": permissions.can_decide_links(user),
        "window": selectors.window_text(),
        "csrf_token": context.get("csrf_token"),
    }
