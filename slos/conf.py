"""SLO settings, read from Django settings (``docs/slos.md``: "Settings").

| setting                          | default | meaning |
|----------------------------------|---------|---------|
| PROMETHEUS_URL                   | ""      | base URL of the Prometheus server (Prometheus SLIs) |
| PROMETHEUS_BEARER_TOKEN          | ""      | optional bearer token (``PROMETHEUS_BEARER_TOKEN_FILE`` works too) |
| PROMETHEUS_TIMEOUT_SECONDS       | 10      | total deadline of one range query |
| PROMETHEUS_STEP_SECONDS          | 60      | range-query step (one rollup minute per step) |
| SLO_SYNC_OVERLAP_MINUTES         | 10      | minutes re-read on each Prometheus sync (late scrapes) |
| SLO_BUDGET_GATE_MIN_REMAINING    | 0.10    | readiness ``error_budget`` fails below this fraction left |
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def prometheus_url() -> str:
    return str(_get("PROMETHEUS_URL", "") or "").rstrip("/")


def prometheus_token() -> str:
    return str(_get("PROMETHEUS_BEARER_TOKEN", "") or "")


def prometheus_timeout() -> float:
    return float(_get("PROMETHEUS_TIMEOUT_SECONDS", 10))


def prometheus_step() -> int:
    return int(_get("PROMETHEUS_STEP_SECONDS", 60))


def sync_overlap() -> timedelta:
    return timedelta(minutes=int(_get("SLO_SYNC_OVERLAP_MINUTES", 10)))


def gate_min_remaining() -> float:
    return float(_get("SLO_BUDGET_GATE_MIN_REMAINING", 0.10))
