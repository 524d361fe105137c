"""Deployments' side of its contract with readiness (same layer, one direction: we import
readiness). Connected once from ``DeploymentsConfig.ready()``:

- readiness' ``release_moved`` signal -> ``services.record_release_move`` (a release's
  shipped / rolled back creates or finishes its deployment, in the same transaction);
- the automatic check ``recent_change_failures`` (registered in readiness' check registry);
- ``readiness.hooks.last_deploys`` (the gate's answer carries each service's last deploy)
  and ``readiness.hooks.last_real_rollback`` (a real rollback is rollback evidence).
"""

from __future__ import annotations

from datetime import datetime

from deployments import conf, selectors, services
from readiness import checks, hooks
from readiness.models import Release


def _on_release_moved(sender, *, release, status, actor, at, **kwargs):
    services.record_release_move(release=release, status=status, actor=actor, at=at)


def recent_change_failures(release: Release, *, now: datetime, item=None) -> list[str]:
    """Warn when a service's change failure rate over its last N deploys exceeds the setting."""
    limit = conf.change_failure_warn_ratio()
    sample = conf.change_failure_sample()
    reasons = []
    for service in sorted(release.services.all(), key=lambda s: s.slug):
        recent = selectors.recent_change_failures(service, sample=sample)
        if recent.ratio is not None and recent.ratio > limit:
            reasons.append(
                f"service {service.slug}: {recent.failures} of its last {recent.deploys} deploys were change "
                f"failures ({recent.ratio:.0%}, above {limit:.0%})"
            )
    return reasons


def connect() -> None:
    hooks.release_moved.connect(_on_release_moved, dispatch_uid="deployments.release_moved")
    checks.register("recent_change_failures", "Recent change failure rate is acceptable")(
        recent_change_failures
    )
    hooks.last_deploys = selectors.last_deploys_of_release
    hooks.last_real_rollback = selectors.last_real_rollback_of_release
    hooks.gate_warnings = lambda release, now: recent_change_failures(release, now=now)
