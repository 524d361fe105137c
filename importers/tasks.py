"""Thin, idempotent import task (default queue)."""

from celery import shared_task

from importers import services


@shared_task(name="importers.execute_run", ignore_result=True)
def execute_run(run_id: int, apply: bool) -> bool:
    # The run row says which step is due; a duplicate delivery finds it past that step.
    return services.execute_run(run_id=run_id, apply=apply)
