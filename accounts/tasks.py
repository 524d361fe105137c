"""Accounts tasks: keep the sign-in records (django-axes) bounded."""

from celery import shared_task

from accounts import services
from opsportal.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="accounts: prune old sign-in records",
        task="accounts.prune_sign_in_records",
        crontab="41 3 * * *",
        description="Deletes sign-in and sign-in failure records older than LOGIN_RECORDS_RETENTION_DAYS "
        "(default 365).",
    ),
]


@shared_task(name="accounts.prune_sign_in_records", ignore_result=True)
def prune_sign_in_records() -> int:
    """Idempotent: a second run finds nothing old enough."""
    return services.prune_sign_in_records()
