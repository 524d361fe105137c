"""Each source end to end against its local fake: dry run, apply, re-run without changes,
and verification of four weeks (across US and EU DST) against the source's own final
schedule. The fakes and the API pages they follow are named in tests/importers/fakes.py."""

from __future__ import annotations

import pytest

from catalog.models import Service, Team
from importers import planner, services
from importers.http import SourceClient
from importers.models import SourceLink
from oncall.models import EscalationPolicy, Override, Schedule
from tests.importers import fakes

SOURCES = {
    "pagerduty": ("pd_fake", "pd-key"),
    "opsgenie": ("og_fake", "og-key"),
    "grafana-oncall": ("go_fake", "go-key"),
}


def _client(source, fake, key, sleeps):
    from importers.services import READERS

    return SourceClient(fake.base, READERS[source].headers(key), sleep=sleeps.append)


def _run(source, fake, key, actor, *, apply, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    client = _client(source, fake, key, sleeps)
    try:
        return services.run_import(source=source, client=client, actor=actor, apply=apply, now=fakes.NOW)
    finally:
        client.close()


def _actions(rows, group):
    return {r["action"] for r in rows if r["group"] == group}


@pytest.mark.django_db
@pytest.mark.parametrize("source", list(SOURCES))
def test_dry_run_apply_rerun_and_verify(source, request, allow_local, all_people, manager):
    fixture, key = SOURCES[source]
    fake = request.getfixturevalue(fixture)
    sleeps: list[float] = []

    dry = _run(source, fake, key, manager, apply=False, sleeps=sleeps)
    assert dry["ok"], dry["report"]
    assert sleeps == [2.0]
    assert dry["retries_after_429"] == 1
    counts = planner.summary(dry["plan"])
    assert counts["user"] == {"update": 22}  # matched by e-mail
    assert counts["team"] == {"create": 5}
    assert counts["schedule"] == {"create": 7, "cannot map": 1}
    assert counts["policy"] == {"create": 5}
    unmappable = next(r for r in dry["plan"] if r["action"] == "cannot map" and r["group"] == "schedule")
    assert unmappable["name"] == "Legacy odd rotation"
    assert unmappable["reason"]
    assert not Schedule.objects.exists()
    assert not Team.objects.exists()

    applied = _run(source, fake, key, manager, apply=True)
    assert applied["ok"], applied["report"]
    assert Schedule.objects.count() == 7
    assert EscalationPolicy.objects.count() == 5
    assert Team.objects.count() == 5
    if source == "pagerduty":
        assert Service.objects.count() == 5
        assert Override.objects.count() == 2
    verified = {v["schedule"]: v for v in applied["verification"]}
    assert len(verified) == 8
    assert verified["Legacy odd rotation"]["mapped"] is False
    for name, v in verified.items():
        if v["mapped"]:
            assert v["agreement"] == 100.0, (name, v)
            assert v["differences"] == [], (name, v)
            assert v["source_shifts"] == v["portal_shifts"]
            assert v["portal_shifts"] > 0

    again = _run(source, fake, key, manager, apply=False)
    changes = [r for r in again["plan"] if r["action"] not in (planner.SKIP, planner.CANNOT)]
    assert changes == []
    links = SourceLink.objects.filter(source=source).count()
    again_applied = _run(source, fake, key, manager, apply=True)
    assert SourceLink.objects.filter(source=source).count() == links
    assert Schedule.objects.count() == 7
    assert Override.objects.count() == (2 if source == "pagerduty" else Override.objects.count())
    assert all(v["agreement"] == 100.0 for v in again_applied["verification"] if v["mapped"])


@pytest.mark.django_db
def test_missing_people_are_listed_and_their_schedules_not_mapped(allow_local, people, manager, pd_fake):
    result = _run("pagerduty", pd_fake, "pd-key", manager, apply=False)
    missing = [r for r in result["plan"] if r["group"] == "user" and r["action"] == "cannot map"]
    assert [r["name"] for r in missing] == ["person20@example.com", "person21@example.com"]
    edge = next(r for r in result["plan"] if r["name"] == "Edge with an ending layer")
    assert edge["action"] == "cannot map"
    assert "person20@example.com" in edge["reason"]


@pytest.mark.django_db
@pytest.mark.parametrize("source", list(SOURCES))
def test_a_wrong_key_is_a_report_line(source, request, allow_local, manager):
    fixture, _ = SOURCES[source]
    fake = request.getfixturevalue(fixture)
    result = _run(source, fake, "wrong", manager, apply=True)
    assert not result["ok"]
    assert "refused the API key (401)" in result["report"][0]
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_the_outbound_guard_refuses_loopback_by_default(settings, manager, pd_fake):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    result = _run("pagerduty", pd_fake, "pd-key", manager, apply=False)
    assert not result["ok"]
    assert "refused by the outbound guard" in result["report"][0]
