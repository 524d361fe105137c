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
    # and change or remove their own: checked per object below), open pages by hand,
    # acknowledge or resolve pages, and keep their own iCal feeds.
    RESPONDERS: view("oncall", *_DEFINITION, "page", "pageevent")
    | {
        "oncall.add_override",
        "oncall.change_override",
        "oncall.delete_override",
        "oncall.add_page",
        "oncall.change_page",
        "oncall.add_calendarfeed",
    },
    # Release leads read schedules and policies (who is on call during a release window) and
    # keep their own iCal feeds.
    RELEASE_LEADS: view(
        "oncall",
        "schedule",
        "rotationlayer",
        "layermember",
        "layerrestriction",
        "override",
        "escalationpolicy",
        "escalationlevel",
        "calendarfeed",
    )
    | {"oncall.add_calendarfeed"},
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


def can_change_override(user, override) -> bool:
    """Managers change or remove any override; anyone else only one that is theirs: they are
    the person on call in it, the person it covers (a swap), or they arranged it."""
    if is_manager(user):
        return True
    if not getattr(user, "is_authenticated", False) or not user.has_perm("oncall.add_override"):
        return False
    return user.pk in {override.user_id, override.covers_id, override.created_by_id}


def can_page(user) -> bool:
    """Acknowledge and resolve pages."""
    return getattr(user, "is_authenticated", False) and user.has_perm("oncall.change_page")


def can_open_page(user) -> bool:
    """Open a page by hand (the admin's "Page on-call" form, ``POST /api/v1/pages/``):
    engineering managers and responders, like anyone on PagerDuty who may trigger an incident
    on a service. Release leads and support do not page people directly: support files an
    escalation, which routes and pages by the rules."""
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and user.has_perm("oncall.add_page")
    )


def can_see_feed(user, feed) -> bool:
    """An iCal feed URL is a credential (anyone holding it reads the shifts): only the person
    who created it, or whose shifts it carries, sees it."""
    return getattr(user, "is_authenticated", False) and user.pk in {feed.user_id, feed.created_by_id}
