"""What each role may do with probes (merged into the role groups by accounts.roles).

- Engineering managers: configure probes and maintenance windows; read everything.
- Responders: read probes, results and alerts; pause/resume/run now (``operate_probe``, not
  ``change_probe``: they do not change what a probe checks) and open maintenance windows
  while they work on a service.
- Release leads: read (readiness checks probes exist and have runbooks).
- Support: nothing (not staff).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_READ = view("probes", "probe", "proberesult", "probeevent", "probealert", "maintenancewindow")

ROLE_GRANTS = {
    MANAGERS: crud("probes", "probe", "maintenancewindow")
    | {"probes.operate_probe"}
    | _READ
    | view("probes", "historicalprobe", "historicalmaintenancewindow"),
    RESPONDERS: _READ | {"probes.operate_probe"} | crud("probes", "maintenancewindow"),
    RELEASE_LEADS: view("probes", "probe", "probealert"),
}


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_configure(user, *, creating: bool = False) -> bool:
    """Add a probe or change what it checks (URL, interval, headers, thresholds)."""
    return _active(user) and user.has_perm("probes.add_probe" if creating else "probes.change_probe")


def can_operate(user) -> bool:
    """Pause, resume, run now."""
    return _active(user) and user.has_perm("probes.operate_probe")
