"""Who may do what with incidents (admin, API and services all ask here).

- Engineering managers and responders act on incidents: declare, acknowledge, take command,
  change status and severity, post updates and notes. Managers also edit the severity guide.
- Support reads open incidents' title, status, services and customer message only, through
  ``incidents.selectors.open_incidents_for_support`` (no model permission at all).
- Release leads read incidents (readiness reviews look at recent incidents and drills).
"""

from accounts import roles
from accounts.permissions import is_manager, is_responder, is_support

ROLE_GRANTS = {
    roles.MANAGERS: roles.crud("incidents", "incident", "timelineevent", "statusupdate")
    - {"incidents.delete_incident"}
    | {"incidents.view_severity", "incidents.change_severity"}
    | roles.view("incidents", "historicalincident", "historicalseverity"),
    roles.RESPONDERS: {
        "incidents.view_incident",
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.view_severity",
        "incidents.view_timelineevent",
        "incidents.add_timelineevent",
        "incidents.view_statusupdate",
        "incidents.add_statusupdate",
        "incidents.view_historicalincident",
    },
    roles.RELEASE_LEADS: roles.view("incidents", "incident", "severity", "timelineevent", "statusupdate"),
}


def can_respond(user) -> bool:
    """Declare, acknowledge, command, transition, post updates and notes."""
    if user is None or not getattr(user, "is_active", False):
        return False
    return bool(user.is_superuser) or is_manager(user) or is_responder(user)


def can_read_support_view(user) -> bool:
    """Support's narrow view of open incidents (also granted to anyone who can respond)."""
    return can_respond(user) or is_support(user)
