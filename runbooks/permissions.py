"""Who may read and change runbooks (admin, pages and API all ask here).

- Engineering managers: everything, including deleting runbooks.
- Responders: write, review and record tests of runbooks (they are the ones using them at 3 am).
- Release leads: read (readiness reviews check that runbooks exist and are fresh).
- Support: no access; they are not staff and the pages answer 403.
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

ROLE_GRANTS = {
    MANAGERS: crud("runbooks", "runbook") | view("runbooks", "historicalrunbook"),
    RESPONDERS: {"runbooks.add_runbook", "runbooks.change_runbook"}
    | view("runbooks", "runbook", "historicalrunbook"),
    RELEASE_LEADS: view("runbooks", "runbook", "historicalrunbook"),
}


def can_read(user) -> bool:
    """The read-only pages: any signed-in, active staff user."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def can_create(user) -> bool:
    return can_read(user) and user.has_perm("runbooks.add_runbook")


def can_edit(user) -> bool:
    """Edit content, mark reviewed, record a test, restore an old version."""
    return can_read(user) and user.has_perm("runbooks.change_runbook")
