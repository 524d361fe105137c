"""Thin, idempotent chat tasks (critical queue: ``chat.*``)."""

from datetime import timedelta

from celery import shared_task

from chat import handlers, services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="chat: maintain channels and user groups",
        task="chat.maintain",
        every=timedelta(seconds=60),
        queue="critical",
        description="Archives closed incidents' channels, syncs on-call user groups at handoffs, retries "
        "channels still pending, finishes inbound chat requests whose task was lost.",
    ),
]


@shared_task(name="chat.handle_inbound", ignore_result=True)
def handle_inbound(request_id: int) -> str:
    # The row is processed once under a lock; a redelivered task finds it done.
    return handlers.process(request_id)


@shared_task(name="chat.maintain", ignore_result=True)
def maintain() -> dict:
    resumed = services.resume_inbound()
    for pk in resumed:
        handlers.process(pk)
    return {
        "archived": services.archive_due(),
        "usergroups": services.sync_usergroups(),
        "retried": services.retry_stalled_channels(),
        "resumed": len(resumed),
        "pruned": services.prune_inbound(),
    }
