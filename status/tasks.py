"""Subscriber fan-out of external updates (thin: the work is in status.services)."""

from datetime import timedelta

from celery import shared_task

from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="status: mail external updates to subscribers",
        task="status.dispatch_pending",
        every=timedelta(seconds=60),
        queue="default",
        description="Catches any external update whose on-commit fan-out did not run.",
    ),
]


@shared_task(name="status.dispatch_update", ignore_result=True)
def dispatch_update(update_id: int) -> None:
    from status import services

    services.dispatch_update(update_id=update_id)


@shared_task(name="status.dispatch_pending", ignore_result=True)
def dispatch_pending() -> None:
    from status import services

    services.dispatch_pending()
