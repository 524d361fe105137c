"""Who may change what customers see.

Managers configure components and decide whether an incident is public; responders (the
people running an incident, comms leads included) may also override a component's status
and announce maintenance. Admin, services and pages all ask these functions."""

from accounts.permissions import is_manager, is_responder
from accounts.roles import MANAGERS, RESPONDERS, crud, view

ROLE_GRANTS = {
    MANAGERS: crud("status", "component", "publicincident", "scheduledmaintenance", "subscriber")
    | view("status", "historicalcomponent", "historicalpublicincident", "historicalscheduledmaintenance"),
    RESPONDERS: view("status", "component", "publicincident", "historicalcomponent")
    | crud("status", "scheduledmaintenance")
    | {"status.change_component"},
}


def can_publish(user) -> bool:
    """Configure components, mark incidents (not) public, manage subscribers."""
    return is_manager(user)


def can_override(user) -> bool:
    """Override a component's status, announce maintenance."""
    return is_manager(user) or is_responder(user)
