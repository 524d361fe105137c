"""What each role may do with alerts (merged into the role groups by accounts.roles).

- Engineering managers: set up integrations (create, change, rotate, revoke, delete); read
  and respond to everything.
- Responders: read integrations (never their keys: only a hint is stored), alerts, groups and
  raw payloads; acknowledge, resolve, take over groups and open incidents from them.
- Release leads: read alerts and groups (readiness counts integrations as alert coverage).
- Support: nothing (not staff).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_READ = view("alerts", "integration", "alertgroup", "alert", "rawpayload")

ROLE_GRANTS = {
    MANAGERS: crud("alerts", "integration") | _READ | {"alerts.respond_alertgroup"},
    RESPONDERS: _READ | {"alerts.respond_alertgroup"},
    RELEASE_LEADS: view("alerts", "alertgroup", "alert"),
}


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_manage_integrations(user) -> bool:
    return _active(user) and user.has_perm("alerts.change_integration")


def can_respond(user) -> bool:
    """Acknowledge, resolve, take over, open an incident."""
    return _active(user) and user.has_perm("alerts.respond_alertgroup")
