"""Who may read, check in and reassign duties (admin, pages, API and signed links all ask here).

- Engineering managers: everything (create, edit, reassign, retire, check in for anyone).
- A team's manager: reassign and check in that team's duties.
- Owner and backup of a duty: check it in.
- Responders and release leads: read the register and the operating model page.
- Support: no access; they are not staff and the page answers 403.
"""

from accounts.permissions import is_manager
from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view
from catalog.models import Team

ROLE_GRANTS = {
    MANAGERS: crud("operations", "responsibility", "checkin")
    | view("operations", "historicalresponsibility", "historicalcheckin"),
    RESPONDERS: view("operations", "responsibility", "checkin"),
    RELEASE_LEADS: view("operations", "responsibility", "checkin"),
}


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_read(user) -> bool:
    """The published operating model: any signed-in, active staff user."""
    return _active(user) and user.is_staff


def can_manage(user, responsibility=None) -> bool:
    """Create, edit, reassign: managers by role, or the manager of the duty's team."""
    if not _active(user):
        return False
    if user.is_superuser or (is_manager(user) and user.has_perm("operations.change_responsibility")):
        return True
    return responsibility is not None and responsibility.team.manager_id == user.pk


def can_reassign_any(user) -> bool:
    """May reassign some duty: managers by role, or the manager of a team."""
    if not _active(user):
        return False
    # The permission first: it is cached for the request, the team lookup is a query.
    return user.has_perm("operations.change_responsibility") or Team.objects.filter(manager=user).exists()


def can_check_in(user, responsibility) -> bool:
    if not _active(user):
        return False
    if user.pk in (responsibility.owner_id, responsibility.backup_id):
        return True
    return can_manage(user, responsibility)
