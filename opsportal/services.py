"""Platform writes that belong to no domain app: the schedule of the periodic tasks.

Periodic tasks are declared in code (``<app>/tasks.py``, synced by ``opsportal.periodic``);
engineering managers may switch one off or on and change when it runs, in the admin. What a
task runs (its task name, arguments, queue) stays as the code declares it.
"""

from __future__ import annotations

from django.db import transaction

from opsportal.errors import InvalidInput, NotAllowed

MIN_INTERVAL_SECONDS = 10


def _require(actor, perm: str, what: str) -> None:
    if actor is not None and not (getattr(actor, "is_active", False) and actor.has_perm(perm)):
        raise NotAllowed(f"Only engineering managers {what}.")


@transaction.atomic
def update_periodic_task(*, task, actor, enabled=None, interval=None, crontab=None, description=None):
    """Enable or disable a periodic task, or give it another schedule (an interval or a
    crontab, exactly one)."""
    from django_celery_beat.models import PeriodicTask

    _require(actor, "django_celery_beat.change_periodictask", "change periodic tasks")
    locked = PeriodicTask.objects.select_for_update().get(pk=task.pk)
    if interval is not None or crontab is not None:
        if (interval is None) == (crontab is None):
            raise InvalidInput("Choose either an interval or a crontab, not both.", field="interval")
        locked.interval, locked.crontab = interval, crontab
        locked.solar = locked.clocked = None
    if (
        locked.interval is not None
        and locked.interval.every * _seconds(locked.interval.period) < MIN_INTERVAL_SECONDS
    ):
        raise InvalidInput(f"Run at most every {MIN_INTERVAL_SECONDS} seconds.", field="interval")
    if enabled is not None:
        locked.enabled = bool(enabled)
        if not locked.enabled:
            locked.last_run_at = None  # re-enabled tasks start from now, not catch up
    if description is not None:
        locked.description = description
    locked.save()
    return locked


def _seconds(period: str) -> int:
    return {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 0}.get(period, 1)


@transaction.atomic
def create_interval(*, actor, every: int, period: str):
    from django_celery_beat.models import IntervalSchedule

    _require(actor, "django_celery_beat.add_intervalschedule", "add schedules")
    if every < 1:
        raise InvalidInput("Every how many? At least 1.", field="every")
    row, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    return row


@transaction.atomic
def create_crontab(*, actor, **fields):
    from django_celery_beat.models import CrontabSchedule

    _require(actor, "django_celery_beat.add_crontabschedule", "add schedules")
    row = CrontabSchedule(**fields)
    row.full_clean()
    row.save()
    return row
