"""Thin Celery adapters over notifications.services (queue: critical)."""

from datetime import timedelta

from celery import shared_task

from notifications import services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="notifications: re-dispatch stranded notifications",
        task="notifications.redispatch",
        every=timedelta(seconds=30),
        queue="critical",
        description="Re-enqueues notifications left pending (broker down at commit) or stuck sending "
        "(worker died past its lease).",
    ),
]


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver(notification_id: int) -> str:
    # Idempotent: the conditional claim lets exactly one run send a row; others skip.
    return services.deliver(notification_id=notification_id)


@shared_task(name="notifications.deliver_many", ignore_result=True)
def deliver_many(notification_ids: list[int]) -> dict:
    # Same guarantees as deliver, one claim for the whole chunk (fan-outs, redispatch).
    return services.deliver_batch(notification_ids=notification_ids)


@shared_task(name="notifications.redispatch", ignore_result=True)
def redispatch(grace_seconds: float = 30, limit: int = 2000) -> int:
    return services.redispatch(grace_seconds=grace_seconds, limit=limit)
