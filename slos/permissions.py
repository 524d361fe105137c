"""Who may do what with SLOs (merged into the role groups by accounts.roles; admin, API and
services all ask here).

- Engineering managers: define SLOs (objective, SLI, burn rules), push events, read everything.
- Responders: read SLOs, budgets and burn alerts; push event counts (``push_slo_events``) for
  the services they run without Prometheus.
- Release leads: read SLOs and budgets (the readiness gate's ``error_budget`` check).
- Support: nothing (not staff).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_READ = view("slos", "slo", "burnalert")

ROLE_GRANTS = {
    MANAGERS: crud("slos", "slo") | _READ | {"slos.push_slo_events"} | view("slos", "historicalslo"),
    RESPONDERS: _READ | {"slos.push_slo_events"},
    RELEASE_LEADS: _READ,
}


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_view(user) -> bool:
    return _active(user) and user.has_perm("slos.view_slo")


def can_configure(user, *, creating: bool = False) -> bool:
    return _active(user) and user.has_perm("slos.add_slo" if creating else "slos.change_slo")


def can_delete(user) -> bool:
    return _active(user) and user.has_perm("slos.delete_slo")


def can_push(user) -> bool:
    return _active(user) and user.has_perm("slos.push_slo_events")
