"""Probe tasks (queue ``probes``): thin, idempotent, take primary keys."""

from datetime import timedelta

from celery import shared_task

from opsportal.periodic import PeriodicTaskSpec
from probes import services

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="probes: dispatch due probes",
        task="probes.dispatch",
        every=timedelta(seconds=10),
        queue="probes",
        description="Leases due network probes in batches and marks late heartbeats.",
    ),
    PeriodicTaskSpec(
        name="probes: prune old results",
        task="probes.prune_results",
        crontab="17 3 * * *",
        queue="probes",
        description="Deletes probe results older than PROBE_RESULT_RETENTION_DAYS (default 30).",
    ),
]


@shared_task(name="probes.dispatch", ignore_result=True)
def dispatch() -> int:
    """Safe to run twice: leased probes are skipped by the next run until the lease ends."""
    return services.dispatch_due().leased


@shared_task(name="probes.run_batch", ignore_result=True, acks_late=True)
def run_batch(probe_ids: list[int], lease_token: str) -> int:
    """Runs only the probes this token still leases: a duplicate delivery finds the lease
    released (or taken by a later tick) and does nothing."""
    return services.run_batch(probe_ids=probe_ids, lease_token=lease_token)


@shared_task(name="probes.prune_results", ignore_result=True)
def prune_results() -> int:
    return services.prune_results()


@shared_task(name="probes.demo_heartbeat", ignore_result=True)
def demo_heartbeat(probe_uuid: str) -> bool:
    """Demo data only (registered by ``probes/demo.py``): plays a job that reports in."""
    services.record_ping(ping_uuid=probe_uuid, kind="start")
    return services.record_ping(ping_uuid=probe_uuid, kind="success")
