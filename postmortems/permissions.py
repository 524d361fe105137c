"""Who may do what with postmortems (admin, API and services all ask here).

- Responders and engineering managers write postmortems and their action items, and move
  action items through their statuses.
- Engineering managers review: they approve a postmortem they do not own (the author never
  approves their own). The owner, the approver or any manager publishes an approved one.
- Release leads read postmortems and action items (readiness reviews look at open remediation).
"""

from accounts import roles
from accounts.permissions import is_manager
from incidents.permissions import can_respond

ROLE_GRANTS = {
    roles.MANAGERS: roles.crud("postmortems", "postmortem", "actionitem", "holiday")
    - {"postmortems.delete_postmortem"}
    | roles.view("postmortems", "historicalpostmortem", "historicalactionitem"),
    roles.RESPONDERS: {
        "postmortems.view_postmortem",
        "postmortems.add_postmortem",
        "postmortems.change_postmortem",
        "postmortems.view_actionitem",
        "postmortems.add_actionitem",
        "postmortems.change_actionitem",
        "postmortems.view_holiday",
        "postmortems.view_historicalpostmortem",
        "postmortems.view_historicalactionitem",
    },
    roles.RELEASE_LEADS: roles.view("postmortems", "postmortem", "actionitem"),
}


def can_write(user) -> bool:
    return can_respond(user)


def can_update_item(user) -> bool:
    return can_respond(user)


def can_review(user, postmortem) -> bool:
    """An active engineering manager (or superuser) who does not own the postmortem."""
    if not can_respond(user) or not is_manager(user):
        return False
    return user.pk != postmortem.owner_id


def can_publish(user, postmortem) -> bool:
    if not can_respond(user):
        return False
    return user.pk in (postmortem.owner_id, postmortem.approved_by_id) or is_manager(user)
