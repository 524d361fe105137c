"""The incident room's "Likely caused by" panel (registered in DeploymentsConfig.ready): the
deploys of the incident's services shortly before impact began, with confirm / deny."""

from __future__ import annotations

from deployments import permissions, selectors


def likely_causes(incident, request) -> dict | None:
    user = request.user
    if not permissions.can_view(user):
        return None
    return {
        "visible": True,
        "suggestions": selectors.suggestions(incident),
        "can_decide": permissions.can_decide_links(user),
        "window": selectors.window_text(),
    }
