"""Import runs: read a source, plan, optionally apply, verify. The management command runs
``run_import`` in the foreground; the admin starts an ``ImportRun`` whose Celery task calls the
same function and stores plan, progress and verification on the run."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import ModuleType

from django.db import transaction
from django.utils import timezone

from importers import permissions, planner, verify
from importers.http import ExportDir, SourceClient, SourceError, api_key
from importers.models import SOURCES, ImportRun, SourceLink
from importers.sources import grafana_oncall, opsgenie, pagerduty
from importers.sources.common import Malformed
from oncall.models import Schedule
from opsportal.errors import Conflict, InvalidInput, NotAllowed

log = logging.getLogger(__name__)

READERS: dict[str, ModuleType] = {
    "pagerduty": pagerduty,
    "opsgenie": opsgenie,
    "grafana-oncall": grafana_oncall,
}
VERIFY_WINDOW = timedelta(days=28)


def open_source(
    source: str, *, base_url: str = "", key: str = "", key_file: str = "", export_dir: str = "", **kwargs
):
    if source not in READERS:
        raise InvalidInput(f"Unknown source {source!r}: one of {', '.join(READERS)}.", field="source")
    if export_dir:
        return ExportDir(export_dir)
    reader = READERS[source]
    base = base_url or getattr(reader, "BASE_URL", "")
    if not base:
        raise SourceError(f"{source}: give the API address (base URL) of your instance")
    return SourceClient(base, reader.headers(api_key(source, key, key_file)), **kwargs)


def run_import(*, source: str, client, actor, apply: bool = False, create_missing_users: bool = False,
               now=None, progress=lambda note, pct: None) -> dict:  # fmt: skip
    """Read, plan and (``apply``) execute and verify. Never raises for what a source answers:
    problems come back as report lines."""
    reader = READERS[source]
    now = now or timezone.now()
    since, until = now, now + VERIFY_WINDOW
    result: dict = {"plan": [], "report": [], "verification": [], "new_urls": [], "ok": False}
    progress(f"reading {source}", 5)
    try:
        org = reader.read(client, since=since, until=until)
    except (SourceError, Malformed) as exc:
        result["report"].append(f"could not read {source}: {exc}")
        return result
    finally:
        result["requests"] = client.requests
    result["requests"] = client.requests
    result["retries_after_429"] = client.retries_after_429
    progress("planning", 30)
    rows = planner.plan(org, create_missing_users=create_missing_users)
    result["plan"] = rows
    if not apply:
        result["report"].append("dry run: nothing was changed")
        result["ok"] = True
        return result
    report, urls = planner.apply(org, rows, actor=actor, progress=lambda n, p: progress(n, 40 + p * 4 // 10))
    result["report"].extend(report)
    result["new_urls"] = urls
    progress("verifying", 85)
    emails = {u.id: u.email for u in org.users}
    cannot = {
        r["source_id"]: r["reason"]
        for r in rows
        if r["group"] == "schedule" and r["action"] == planner.CANNOT
    }
    links = {
        link.source_id: link.object_id for link in SourceLink.objects.filter(source=source, kind="schedule")
    }
    for s in org.schedules:
        if s.id in cannot:
            result["verification"].append({"schedule": s.name, "mapped": False, "reason": cannot[s.id]})
            continue
        schedule = Schedule.objects.filter(pk=links.get(s.id)).first()
        if schedule is None:
            result["verification"].append(
                {"schedule": s.name, "mapped": False, "reason": "not imported (see the report)"}
            )
            continue
        try:
            theirs = verify.source_spans(reader.rendered(client, s.id, since, until, emails))
        except (SourceError, Malformed) as exc:
            result["verification"].append(
                {
                    "schedule": s.name,
                    "mapped": True,
                    "agreement": None,
                    "reason": f"source final schedule unavailable: {exc}",
                }
            )
            continue
        outcome = verify.compare(theirs, verify.portal_spans(schedule, since, until), since, until)
        result["verification"].append(
            {"schedule": s.name, "mapped": True, "portal_id": schedule.pk, **outcome}
        )
    result["requests"] = client.requests
    result["ok"] = True
    progress("done", 100)
    return result


@transaction.atomic
def record_run(
    *,
    actor,
    source: str,
    result: dict,
    applied: bool,
    base_url: str = "",
    note: str = "run from the command line",
) -> ImportRun:
    """Store a run made in the foreground (``manage.py import_oncall``, the demo) so the
    admin lists it next to the runs it started."""
    if source not in dict(SOURCES):
        raise InvalidInput(f"Unknown source {source!r}.", field="source")
    if not result["ok"]:
        status = ImportRun.Status.FAILED
    else:
        status = ImportRun.Status.APPLIED if applied else ImportRun.Status.PLANNED
    report = list(result["report"]) + [
        f"new URL for {u['name']} ({u['service']}): {u['url']}" for u in result["new_urls"]
    ]
    return ImportRun.objects.create(
        source=source, base_url=base_url, status=status, progress=100, progress_note=note,
        plan=result["plan"], report=report, verification=result["verification"], started_by=actor,
        finished_at=timezone.now(),
    )  # fmt: skip


# --- runs from the admin ------------------------------------------------------------------------


@transaction.atomic
def start_run(
    *, actor, source: str, base_url: str = "", api_key: str = "", create_missing_users: bool = False
) -> ImportRun:
    """A dry run of ``source``, done by a Celery task after commit."""
    if not permissions.can_import(actor):
        raise NotAllowed("Only engineering managers import from another pager.")
    if source not in dict(SOURCES):
        raise InvalidInput(f"Unknown source {source!r}.", field="source")
    run = ImportRun(source=source, base_url=base_url.strip(), api_key=api_key.strip(),
                    create_missing_users=create_missing_users, started_by=actor)  # fmt: skip
    run.full_clean()
    run.save()
    _enqueue(run.pk, apply=False)
    return run


@transaction.atomic
def start_apply(*, run: ImportRun, actor) -> ImportRun:
    """Apply a finished dry run's plan (the source is read again: the plan is recomputed
    against the source as it is now, then executed)."""
    if not permissions.can_import(actor):
        raise NotAllowed("Only engineering managers import from another pager.")
    updated = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.PLANNED).update(
        status=ImportRun.Status.APPLYING, progress=0, progress_note="queued"
    )
    if not updated:
        raise Conflict("Only a finished dry run can be applied (this run is not waiting for it).")
    _enqueue(run.pk, apply=True)
    run.refresh_from_db()
    return run


def _enqueue(run_id: int, *, apply: bool) -> None:
    from importers import tasks

    transaction.on_commit(lambda: tasks.execute_run.delay(run_id, apply))


def execute_run(*, run_id: int, apply: bool) -> bool:
    """The task's body: idempotent (a run already past this step is left alone)."""
    expected = ImportRun.Status.APPLYING if apply else ImportRun.Status.QUEUED
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != expected:
            return False
        if not apply:
            run.status = ImportRun.Status.RUNNING
            run.save(update_fields=["status"])
    key = run.api_key

    def progress(note: str, pct: int) -> None:
        ImportRun.objects.filter(pk=run_id).update(progress=max(0, min(100, pct)), progress_note=note[:200])

    try:
        client = open_source(run.source, base_url=run.base_url, key=key)
    except SourceError as exc:
        _finish(run_id, ImportRun.Status.FAILED, report=[str(exc)])
        return True
    try:
        result = run_import(source=run.source, client=client, actor=run.started_by, apply=apply,
                            create_missing_users=run.create_missing_users, progress=progress)  # fmt: skip
    finally:
        client.close()
    if not result["ok"]:
        _finish(run_id, ImportRun.Status.FAILED, report=result["report"], plan=result["plan"])
    elif apply:
        _finish(run_id, ImportRun.Status.APPLIED, report=result["report"], plan=result["plan"],
                verification=result["verification"], new_urls=result["new_urls"])  # fmt: skip
    else:
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.PLANNED, plan=result["plan"], report=result["report"], progress=100,
            progress_note="plan ready",
        )  # fmt: skip
    return True


def _finish(run_id: int, status: str, *, report, plan=None, verification=None, new_urls=None) -> None:
    fields = {"status": status, "report": list(report) + [f"new URL for {u['name']} ({u['service']}): {u['url']}" for u in new_urls or []],
              "finished_at": timezone.now(), "api_key": "", "progress": 100, "progress_note": status}  # fmt: skip
    if plan is not None:
        fields["plan"] = plan
    if verification is not None:
        fields["verification"] = verification
    run = ImportRun.objects.get(pk=run_id)
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()  # save(), not update(): the api_key field encrypts on save
