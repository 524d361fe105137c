"""Readiness settings, read from Django settings with documented defaults (README: Release readiness).

| setting                               | default         |
|---------------------------------------|-----------------|
| READINESS_ROLLBACK_TEST_MAX_AGE_DAYS  | 90              |
| READINESS_RUNBOOK_MAX_AGE_DAYS        | 90 (runbook's own review interval decides "due") |
| READINESS_REHEARSAL_MAX_AGE_DAYS      | 90              |
| READINESS_COVERAGE_AFTER_HOURS        | 24              |
| READINESS_GATE_ENFORCE_WINDOW         | True            |
| READINESS_SIGNOFF_REMINDER_HOURS      | 24              |
| READINESS_HOLIDAYS                    | [] ("YYYY-MM-DD" strings or dates) |
| READINESS_BUSINESS_HOURS              | ("09:00", "17:00") |
| READINESS_TIME_ZONE                   | TIME_ZONE       |
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def rollback_test_max_age() -> timedelta:
    return timedelta(days=int(_get("READINESS_ROLLBACK_TEST_MAX_AGE_DAYS", 90)))


def rehearsal_max_age() -> timedelta:
    return timedelta(days=int(_get("READINESS_REHEARSAL_MAX_AGE_DAYS", 90)))


def coverage_after() -> timedelta:
    return timedelta(hours=int(_get("READINESS_COVERAGE_AFTER_HOURS", 24)))


def enforce_window() -> bool:
    return bool(_get("READINESS_GATE_ENFORCE_WINDOW", True))


def signoff_reminder_lead() -> timedelta:
    return timedelta(hours=int(_get("READINESS_SIGNOFF_REMINDER_HOURS", 24)))


def holidays() -> set[date]:
    out = set()
    for value in _get("READINESS_HOLIDAYS", []) or []:
        out.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
    return out


def business_hours() -> tuple[time, time]:
    start, end = _get("READINESS_BUSINESS_HOURS", ("09:00", "17:00"))
    return time.fromisoformat(str(start)), time.fromisoformat(str(end))


def time_zone() -> str:
    return _get("READINESS_TIME_ZONE", None) or settings.TIME_ZONE
