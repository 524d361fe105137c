"""Periodic tasks are declared in code and synced into django-celery-beat.

Each app lists its schedule in ``<app>/tasks.py`` as ``PERIODIC_TASKS = [PeriodicTaskSpec(...)]``.
``manage.py sync_periodic_tasks`` (run by ``make run`` and on every deploy) writes them with
``update_or_create`` keyed on the name, so beat keeps its state (last run, run count) and a
schedule an engineering manager changed in the admin is kept unless ``--reset-schedules``.
Tasks that disappear from code are disabled, not deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

MANAGED_MARKER = "[managed by code]"


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every: timedelta | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week", UTC
    queue: str = "default"
    description: str = ""
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.crontab is None):
            raise ValueError(f"{self.name}: give exactly one of every= or crontab=")
        if self.crontab is not None and len(self.crontab.split()) != 5:
            raise ValueError(f"{self.name}: crontab needs 5 fields, got {self.crontab!r}")


def collect() -> list[PeriodicTaskSpec]:
    """Every PERIODIC_TASKS entry of every installed app's ``tasks`` module."""
    from opsportal.discovery import app_modules

    specs: list[PeriodicTaskSpec] = []
    for _config, module in app_modules("tasks"):
        specs.extend(getattr(module, "PERIODIC_TASKS", []))
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"periodic task names must be unique: {sorted(duplicates)}")
    return specs


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


def _schedule_fields(spec: PeriodicTaskSpec) -> dict:
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    if spec.every is not None:
        seconds = int(spec.every.total_seconds())
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    minute, hour, dom, month, dow = spec.crontab.split()
    cron, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, timezone="UTC"
    )
    return {"interval": None, "crontab": cron}


@transaction.atomic
def sync(specs: list[PeriodicTaskSpec], *, reset_schedules: bool = False) -> SyncReport:
    import json

    from django_celery_beat.models import PeriodicTask

    report = SyncReport()
    for spec in specs:
        defaults = {
            "task": spec.task,
            "queue": spec.queue,
            "kwargs": json.dumps(spec.kwargs, sort_keys=True),
            "description": f"{spec.description} {MANAGED_MARKER}".strip(),
        }
        existing = PeriodicTask.objects.filter(name=spec.name).first()
        if existing is None or reset_schedules:
            defaults.update(_schedule_fields(spec))
        if existing is None:
            defaults["enabled"] = True
        _, created = PeriodicTask.objects.update_or_create(name=spec.name, defaults=defaults)
        (report.created if created else report.updated).append(spec.name)

    stale = PeriodicTask.objects.filter(description__endswith=MANAGED_MARKER, enabled=True).exclude(
        name__in=[s.name for s in specs]
    )
    for task in stale:
        task.enabled = False
        task.save(update_fields=["enabled"])
        report.disabled.append(task.name)
    return report
