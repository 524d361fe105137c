"""Alerts tasks: thin, idempotent."""

from celery import shared_task

from alerts import services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="alerts: prune old raw payloads",
        task="alerts.prune_payloads",
        crontab="23 3 * * *",
        queue="default",
        description="Deletes raw alert payloads older than ALERTS_PAYLOAD_RETENTION_DAYS (default 30).",
    ),
]


@shared_task(name="alerts.prune_payloads", ignore_result=True)
def prune_payloads() -> int:
    """Deleting what is already gone deletes nothing: safe to run twice."""
    return services.prune_payloads()
