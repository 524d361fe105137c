"""SLO tasks: thin and idempotent (the sweep's transitions are conditional updates)."""

from datetime import timedelta

from celery import shared_task

from opsportal.periodic import PeriodicTaskSpec
from slos import services

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="slos: sync Prometheus SLIs and sweep burn rates",
        task="slos.sweep",
        every=timedelta(minutes=1),
        queue="critical",
        description="Reads Prometheus SLIs, then opens/resolves multi-window burn-rate alerts for every SLO.",
    ),
]


@shared_task(name="slos.sweep", ignore_result=True)
def sweep() -> dict:
    return services.sweep()
