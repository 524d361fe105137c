from datetime import timedelta

from celery import shared_task

from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="reminders: sweep",
        task="reminders.sweep",
        every=timedelta(minutes=1),
        description="Sends every SLA reminder that is due, exactly once.",
    ),
]


@shared_task(name="reminders.sweep", ignore_result=True)
def sweep() -> int:
    from reminders import services

    return services.sweep().sent
