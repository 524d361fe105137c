"""Who may do what with support escalations (pages, admin, API and services all ask here).

- Support files escalations, attaches reports to open incidents and sees its OWN escalations
  (plus open incidents' public fields) at /support/ and /api/v1/escalations/. Staff may file
  too (an engineer taking a customer call).
- Responders and engineering managers triage in the admin: acknowledge, link to an incident,
  open an incident, resolve with a reply.
- Engineering managers edit the support settings (SLAs, surge detection, triage policy).
"""

from accounts import roles
from accounts.permissions import is_manager, is_support
from incidents.permissions import can_respond

ROLE_GRANTS = {
    roles.MANAGERS: {
        "escalations.view_escalation",
        "escalations.change_escalation",
        "escalations.view_historicalescalation",
        "escalations.view_supportsettings",
        "escalations.change_supportsettings",
        "escalations.view_historicalsupportsettings",
    },
    roles.RESPONDERS: {"escalations.view_escalation", "escalations.change_escalation"},
    # Release leads hold nothing here: escalations carry customers' names and contacts. Support holds no
    # model permission at all: the support pages and the API ask can_file() and only ever show
    # an agent their own escalations.
}


def can_file(user) -> bool:
    """Use /support/escalate/ and the API: Support members and staff."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff) or is_support(user)


def can_triage(user) -> bool:
    """Acknowledge, link, open an incident, resolve: responders and managers."""
    return can_respond(user)


def can_edit_settings(user) -> bool:
    return user is not None and getattr(user, "is_active", False) and is_manager(user)
