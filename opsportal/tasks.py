from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from opsportal.periodic import PeriodicTaskSpec

BEAT_HEARTBEAT_KEY = "opsportal:scheduler:last-tick"

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="opsportal: scheduler heartbeat",
        task="opsportal.scheduler_heartbeat",
        every=timedelta(seconds=60),
        queue="default",
        description="Proves beat and a worker are alive; /healthz reports its age.",
    ),
]


@shared_task(name="opsportal.ping")
def ping() -> str:
    """Round-trip check through the real broker (used by tests and operators)."""
    return "pong"


@shared_task(name="opsportal.scheduler_heartbeat", ignore_result=True)
def scheduler_heartbeat() -> None:
    # Idempotent: a duplicate run only refreshes the same timestamp.
    cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)
