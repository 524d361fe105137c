"""Thin, idempotent on-call tasks (critical queue: ``oncall.*``)."""

from datetime import timedelta

from celery import shared_task

from oncall import services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="oncall: page auditor",
        task="oncall.audit_pages",
        every=timedelta(seconds=60),
        queue="critical",
        description="Resumes pages whose next escalation step is overdue (lost task, dead worker).",
    ),
    PeriodicTaskSpec(
        name="oncall: handoff notices",
        task="oncall.send_handoff_notices",
        every=timedelta(minutes=5),
        queue="critical",
        description="Tells people before their shift starts and reminds the outgoing person to hand over.",
    ),
]


@shared_task(name="oncall.escalate_page", ignore_result=True)
def escalate_page(page_id: int, step_token: str) -> bool:
    # Re-reads the page under a row lock; a stale or duplicate token does nothing.
    return services.advance_page(page_id=page_id, step_token=step_token)


@shared_task(name="oncall.audit_pages", ignore_result=True)
def audit_pages() -> int:
    return len(services.audit_pages())


@shared_task(name="oncall.send_handoff_notices", ignore_result=True)
def send_handoff_notices() -> int:
    return services.send_handoff_notices()
