"""What goes wrong on the way: a failing source, malformed objects, unknown time zones, a
refused group (rolled back whole), the command line and export directories, and the task
run twice."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from catalog.models import Team
from importers import services
from importers.http import ExportDir, SourceClient
from importers.models import ImportRun
from importers.sources import pagerduty
from oncall.models import Schedule
from tests.importers import fakes


def _client(fake, sleeps=None):
    return SourceClient(
        fake.base, pagerduty.headers("pd-key"), sleep=(sleeps if sleeps is not None else []).append
    )


@pytest.fixture
def flaky_pd():
    """The PagerDuty fake, with a 503 on the first teams page, a user without an e-mail and a
    schedule in an unknown time zone."""
    state = {"failed": False}

    def route(path, q, base):
        if path == "/teams" and not state["failed"]:
            state["failed"] = True
            return 503, {"error": {"message": "Service Unavailable"}}
        status, body = fakes.pagerduty_route(path, q, base)
        if path == "/users" and int(q.get("offset", 0)) == 0:
            body["users"] = [*body["users"], {"id": "UBAD", "name": "No mail"}]
        if path == "/schedules/S6":
            body["schedule"]["time_zone"] = "Mars/Olympus_Mons"
        return status, body

    fake = fakes.Fake(route, "Token token=pd-key", "users")
    yield fake
    fake.close()


@pytest.mark.django_db
def test_5xx_is_retried_and_malformed_objects_are_report_lines(allow_local, all_people, manager, flaky_pd):
    sleeps: list[float] = []
    result = services.run_import(source="pagerduty", client=_client(flaky_pd, sleeps), actor=manager, apply=True,
                                 now=fakes.NOW)  # fmt: skip
    assert result["ok"]
    assert 1.0 in sleeps  # the 503 was retried after a back-off
    problems = [r["reason"] for r in result["plan"] if r["group"] == "source"]
    assert "user UBAD: no id or e-mail, skipped" in problems
    assert any("Data fortnightly: unknown time zone 'Mars/Olympus_Mons'" in p for p in problems)
    assert Schedule.objects.count() == 6
    assert not Schedule.objects.filter(name="Data fortnightly").exists()


@pytest.mark.django_db
def test_a_refused_group_is_rolled_back_whole(allow_local, all_people, responder, pd_fake):
    result = services.run_import(
        source="pagerduty", client=_client(pd_fake), actor=responder, apply=True, now=fakes.NOW
    )
    report = "\n".join(result["report"])
    assert "schedules not applied (rolled back, nothing of this group was kept)" in report
    assert "Only engineering managers edit schedules." in report
    assert Team.objects.count() == 5  # an earlier group stays
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_the_command_dry_runs_then_applies_and_records_runs(
    allow_local, all_people, manager, pd_fake, tmp_path, capsys
):
    key = tmp_path / "key"
    key.write_text("pd-key\n")
    args = ["pagerduty", "--as", "manager", "--base-url", pd_fake.base, "--api-key-file", str(key)]
    call_command("import_oncall", *args)
    out = capsys.readouterr().out
    assert "schedule     1 cannot map, 7 create" in out
    assert "dry run: nothing was changed" in out
    assert not Schedule.objects.exists()
    call_command("import_oncall", *args, "--apply")
    out = capsys.readouterr().out
    assert "verified Platform primary:" in out
    assert "not verified Legacy odd rotation:" in out
    assert Schedule.objects.count() == 7
    assert list(ImportRun.objects.order_by("pk").values_list("status", flat=True)) == ["planned", "applied"]


@pytest.mark.django_db
def test_an_export_directory_is_read_like_the_api(all_people, manager, tmp_path):
    """Air-gapped: the same JSON as files (one per request path)."""
    for path, key in [("users", "users"), ("teams", "teams"), ("services", "services"), ("schedules", "schedules"),
                      ("escalation_policies", "escalation_policies")]:  # fmt: skip
        _, body = fakes.pagerduty_route(f"/{path}", {"limit": 1000}, "")
        body[key] = fakes.pagerduty_route(f"/{path}", {"limit": 1000, "offset": 0}, "")[1][key]
        items, offset = [], 0
        while True:
            _, page = fakes.pagerduty_route(f"/{path}", {"offset": offset}, "")
            items += page[key]
            offset += page["limit"]
            if not page["more"]:
                break
        (tmp_path / f"{path}.json").write_text(json.dumps({key: items, "more": False}))
    for s in fakes.SCHEDULES:
        (tmp_path / f"schedules__{s['id']}.json").write_text(
            json.dumps(fakes.pagerduty_route(f"/schedules/{s['id']}", {}, "")[1])
        )
        (tmp_path / f"schedules__{s['id']}__overrides.json").write_text(
            json.dumps(fakes.pagerduty_route(f"/schedules/{s['id']}/overrides", {}, "")[1])
        )
    result = services.run_import(
        source="pagerduty", client=ExportDir(tmp_path), actor=manager, apply=True, now=fakes.NOW
    )
    assert result["ok"], result["report"]
    assert Schedule.objects.count() == 7
    # the export has no rendered final schedule: verification says so instead of guessing
    mapped = [v for v in result["verification"] if v["mapped"]]
    assert len(mapped) == 7
    assert all(v["agreement"] is None and "no final_schedule" in v["reason"] for v in mapped)


@pytest.mark.django_db(transaction=True)
def test_the_task_is_idempotent(
    allow_local, all_people, manager, pd_fake, django_capture_on_commit_callbacks, monkeypatch
):
    from importers import tasks

    calls = []
    monkeypatch.setattr(tasks.execute_run, "delay", lambda *a: calls.append(a))
    run = services.start_run(actor=manager, source="pagerduty", base_url=pd_fake.base, api_key="pd-key")
    assert calls == [(run.pk, False)]
    assert services.execute_run(run_id=run.pk, apply=False) is True
    assert services.execute_run(run_id=run.pk, apply=False) is False  # a duplicate delivery does nothing
    run.refresh_from_db()
    assert run.status == ImportRun.Status.PLANNED
    assert run.api_key == "pd-key"  # kept for the apply step
    services.start_apply(run=run, actor=manager)
    assert services.execute_run(run_id=run.pk, apply=True) is True
    assert services.execute_run(run_id=run.pk, apply=True) is False
    run.refresh_from_db()
    assert run.status == ImportRun.Status.APPLIED
    assert run.api_key == ""
    assert Schedule.objects.count() == 7
