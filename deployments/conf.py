"""Deployment settings, read from Django settings with documented defaults (docs/deployments.md).

| setting                                   | default |
|-------------------------------------------|---------|
| DEPLOYMENTS_CAUSE_WINDOW_HOURS            | 24      |
| DEPLOYMENTS_CHANGE_FAILURE_WARN_RATIO     | 0.15    |
| DEPLOYMENTS_CHANGE_FAILURE_SAMPLE         | 30      |
| DEPLOYMENTS_MAX_CLOCK_SKEW_SECONDS        | 300     |
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def cause_window() -> timedelta:
    """An incident started this long after a deploy of one of its services suggests the deploy."""
    return timedelta(hours=float(_get("DEPLOYMENTS_CAUSE_WINDOW_HOURS", 24)))


def change_failure_warn_ratio() -> float:
    """The readiness check warns above this change failure rate (0..1)."""
    return float(_get("DEPLOYMENTS_CHANGE_FAILURE_WARN_RATIO", 0.15))


def change_failure_sample() -> int:
    """How many of a service's latest finished deploys the readiness check looks at."""
    return int(_get("DEPLOYMENTS_CHANGE_FAILURE_SAMPLE", 30))


def max_clock_skew() -> timedelta:
    """A reported time may be this far ahead of the server's clock (pipeline clocks drift)."""
    return timedelta(seconds=int(_get("DEPLOYMENTS_MAX_CLOCK_SKEW_SECONDS", 300)))
