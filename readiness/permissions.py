"""Who may see and change releases and reviews (admin, API and the command all ask here).

- Release leads: plan releases, run reviews (mark items, evidence, waive manual items) and
  sign the release-lead slot.
- Waiving an automatic check (and always the change-freeze check ``no_major_incidents``) needs
  the named engineering manager of a team that owns one of the release's services; the person
  who waived anything cannot be the only signer (a second person signs the second-signer slot).
- Engineering managers: plan releases, run reviews, edit templates; sign the manager slot of
  a team they manage (high-risk releases by default).
- Responders: read releases and reviews (what is shipping into their on-call week).
- Support: nothing (not staff).
"""

from __future__ import annotations

from accounts.permissions import is_release_lead
from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

READ_MODELS = ("release", "readinessreview", "reviewitem", "signature", "readinesstemplate", "templateitem")
HISTORY = ("historicalrelease", "historicalreviewitem", "historicalsignature", "historicalreadinessreview")

ROLE_GRANTS = {
    MANAGERS: crud("readiness", "release", "readinesstemplate", "templateitem")
    | view("readiness", *READ_MODELS, *HISTORY)
    | {"readiness.change_reviewitem"},
    RELEASE_LEADS: {"readiness.add_release", "readiness.change_release", "readiness.change_reviewitem"}
    | view("readiness", *READ_MODELS, *HISTORY),
    RESPONDERS: view("readiness", *READ_MODELS),
}

RELEASE_LEAD_SLOT = "release-lead"
# Four eyes: when the only person who signed also waived an item, one more person must sign
# this slot before the release is approved (selectors.four_eyes_blocker).
SECOND_SIGNER_SLOT = "second-signer"
# The change-freeze check: its waiver always needs an owning team's engineering manager, even
# on an item that is not automatic in some template.
CHANGE_FREEZE_CHECK = "no_major_incidents"


def manager_slot(team_id: int) -> str:
    return f"manager:{team_id}"


def _active_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def can_view(user) -> bool:
    return _active_staff(user) and user.has_perm("readiness.view_release")


def can_plan(user) -> bool:
    return _active_staff(user) and user.has_perm("readiness.change_release")


def can_edit_items(user) -> bool:
    return _active_staff(user) and user.has_perm("readiness.change_reviewitem")


def can_sign_slot(user, slot: str, team_managers: dict[int, int | None]) -> bool:
    """``team_managers``: team id -> manager user id for the release's owning teams."""
    if not _active_staff(user):
        return False
    if slot == RELEASE_LEAD_SLOT:
        return is_release_lead(user)
    if slot == SECOND_SIGNER_SLOT:
        return is_release_lead(user) or user.pk in {m for m in team_managers.values() if m}
    if slot.startswith("manager:"):
        try:
            team_id = int(slot.split(":", 1)[1])
        except ValueError:
            return False
        return team_managers.get(team_id) == user.pk
    return False


def waiver_needs_manager(item) -> bool:
    """An automatic check's waiver (and the change-freeze check's, always) needs four eyes."""
    return bool(item.check_key) or CHANGE_FREEZE_CHECK in (item.key, item.check_key)


def can_waive(user, item, team_managers: dict[int, int | None]) -> bool:
    """Release leads and managers waive manual items; an automatic check only the named
    engineering manager of an owning team (``team_managers``: team id -> manager user id)."""
    if not can_edit_items(user):
        return False
    if not waiver_needs_manager(item):
        return True
    return user.pk in {m for m in team_managers.values() if m}
