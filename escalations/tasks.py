"""Thin, idempotent escalation tasks (critical queue: ``escalations.*``)."""

from datetime import timedelta

from celery import shared_task

from escalations import services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="escalations: dispatch auditor",
        task="escalations.dispatch_overdue",
        every=timedelta(seconds=60),
        queue="critical",
        description="Pages on-call for support escalations whose paging task was lost (broker outage, dead worker).",
    ),
]


@shared_task(name="escalations.dispatch", ignore_result=True)
def dispatch(escalation_id: int) -> str:
    # Locks the escalation and re-checks dispatched_at: a redelivered task does nothing.
    return services.dispatch(escalation_id=escalation_id)


@shared_task(name="escalations.dispatch_overdue", ignore_result=True)
def dispatch_overdue() -> int:
    return len(services.dispatch_overdue())
