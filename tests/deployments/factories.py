"""Deployments for tests, reported through the service like a pipeline would."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from deployments import services
from deployments.models import Deployment

_keys = itertools.count(1)


def deploy(
    *, actor, service, started_at: datetime, outcome: str | None = Deployment.Status.SUCCEEDED,
    minutes: int = 10, commit_hours: float | None = 2, version: str | None = None, **kwargs,
) -> Deployment:  # fmt: skip
    """A production deployment of ``service`` (one or a list) started at ``started_at`` and,
    unless ``outcome`` is None, finished ``minutes`` later."""
    n = next(_keys)
    svcs = service if isinstance(service, list | tuple) else [service]
    deployment, _ = services.report_start(
        actor=actor, client_key=f"test-{n}", services=svcs, version=version or f"1.0.{n}",
        started_at=started_at,
        commit_at=started_at - timedelta(hours=commit_hours) if commit_hours is not None else None,
        now=started_at + timedelta(minutes=minutes), **kwargs,
    )  # fmt: skip
    if outcome is not None:
        deployment = services.report_finish(
            actor=actor, deployment=deployment, outcome=outcome,
            finished_at=started_at + timedelta(minutes=minutes), now=started_at + timedelta(minutes=minutes),
        )  # fmt: skip
    return deployment
