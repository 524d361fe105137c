"""Who may do what with on-call (merged into the role groups by accounts.roles; services and
views ask the functions below)."""

from accounts.permissions import is_manager
from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_DEFINITION = ("schedule", "rotationlayer", "layermember", "layerrestriction", "override", "calendarfeed",
               "escalationpolicy", "escalationlevel", "servicepolicy")  # fmt: skip
_HISTORY = ("historicalschedule", "historicalrotationlayer", "historicallayermember", "historicallayerrestriction",
            "historicaloverride", "historicalescalationpolicy", "historicalescalationlevel",
            "historicalservicepolicy")  # fmt: skip

ROLE_GRANTS = {
    MANAGERS: crud("oncall", *_DEFINITION)
    | view("oncall", *_HISTORY, "page", "pageevent")
    | {"oncall.change_page", "oncall.add_page"},
    # Responders see every schedule and policy, take shifts (overrides/swaps for themselves,
    # checked in services) and acknowledge or resolve pages.
    RESPONDERS: view("oncall", *_DEFINITION, "page", "pageevent")
    | {"oncall.add_override", "oncall.change_page", "oncall.add_calendarfeed"},
    RELEASE_LEADS: view(
        "oncall",
        "schedule",
        "rotationlayer",
        "layermember",
        "layerrestriction",
        "override",
        "escalationpolicy",
        "escalationlevel",
    ),
}


def can_manage_schedule(user, schedule) -> bool:
    """Managers (any team: they cover for each other) and superusers edit schedules."""
    return is_manager(user)


def can_override(user, schedule, on_call_user) -> bool:
    """Managers arrange overrides for anyone; a responder puts only themselves on call
    ("I'll take tonight") on a schedule of a team they belong to."""
    if is_manager(user):
        return True
    if not getattr(user, "is_authenticated", False) or user.pk != getattr(on_call_user, "pk", None):
        return False
    return user.has_perm("oncall.add_override") and schedule.team.members.filter(pk=user.pk).exists()


def can_swap(user, covered, covering) -> bool:
    """A swap is arranged by either person involved, or by a manager for others."""
    if is_manager(user):
        return True
    return (
        getattr(user, "is_authenticated", False)
        and user.pk in {covered.pk, covering.pk}
        and user.has_perm("oncall.add_override")
    )


def can_page(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.has_perm("oncall.change_page")
