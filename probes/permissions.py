"""What each role may do with probes (merged into the role groups by accounts.roles).

- Engineering managers: configure probes and maintenance windows; read everything.
- Responders: read probes, results and alerts; pause/resume/run now (change_probe) and
  open maintenance windows while they work on a service.
- Release leads: read (readiness checks probes exist and have runbooks).
- Support: nothing (not staff).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_READ = view("probes", "probe", "proberesult", "probeevent", "probealert", "maintenancewindow")

ROLE_GRANTS = {
    MANAGERS: crud("probes", "probe", "maintenancewindow")
    | _READ
    | view("probes", "historicalprobe", "historicalmaintenancewindow"),
    RESPONDERS: _READ | {"probes.change_probe"} | crud("probes", "maintenancewindow"),
    RELEASE_LEADS: view("probes", "probe", "probealert"),
}
