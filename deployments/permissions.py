"""Who may see deployments, report them and link them to incidents (admin, API, the command
and the incident room all ask here).

- Responders, release leads and engineering managers read deployments and report them
  (a pipeline uses a token of one of them: ``/api/v1/api-tokens/``).
- Responders and engineering managers confirm or deny "caused by" links in the incident room
  (the people who run incidents).
- Support: nothing (not staff).
"""

from __future__ import annotations

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, view
from incidents.permissions import can_respond

REPORT = {"deployments.add_deployment", "deployments.change_deployment"}
READ = view("deployments", "deployment", "incidentlink")

ROLE_GRANTS = {
    MANAGERS: READ | REPORT,
    RELEASE_LEADS: READ | REPORT,
    RESPONDERS: READ | REPORT,
}


def _active_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def can_view(user) -> bool:
    return _active_staff(user) and user.has_perm("deployments.view_deployment")


def can_report(user) -> bool:
    return _active_staff(user) and user.has_perm("deployments.add_deployment")


def can_decide_links(user) -> bool:
    return can_view(user) and can_respond(user)
