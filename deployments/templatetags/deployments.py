"""``{% deployment_causes original %}``: the incident room's "likely caused by" panel (the
incident page includes it with one line; it asks ``deployments`` for its suggestions)."""

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
