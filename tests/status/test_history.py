"""90-day bars: worst status per UTC day from incident history, uptime % from probe results."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services as incidents
from probes.models import ProbeResult
from status import selectors
from tests.probes.factories import ProbeFactory
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def results(probe, day: datetime, up: int, down: int):
    rows = [
        ProbeResult(probe=probe, checked_at=day + timedelta(minutes=n), outcome="up", ok=True)
        for n in range(up)
    ] + [
        ProbeResult(probe=probe, checked_at=day + timedelta(minutes=100 + n), outcome="down", ok=False)
        for n in range(down)
    ]
    ProbeResult.objects.bulk_create(rows)


@time_machine.travel(NOW, tick=False)
def test_uptime_per_day_from_probe_results(manager):
    api = component(name="API")
    no_probe = component(name="Docs", order=2)
    probe = ProbeFactory(service=api.service)
    results(probe, datetime(2026, 6, 28, 1, 0, tzinfo=UTC), up=3, down=1)
    results(probe, datetime(2026, 6, 29, 23, 0, tzinfo=UTC), up=4, down=0)
    results(probe, datetime(2026, 1, 1, tzinfo=UTC), up=0, down=50)  # outside the 90 days

    history = selectors.daily_history([api, no_probe], now=NOW)
    days = {d["date"].isoformat(): d for d in history[api.pk]["days"]}
    assert len(history[api.pk]["days"]) == 90
    assert history[api.pk]["days"][-1]["date"].isoformat() == "2026-06-30"
    assert days["2026-06-28"]["uptime"] == 75.0
    assert days["2026-06-29"]["uptime"] == 100.0
    assert days["2026-06-27"]["uptime"] is None
    assert history[api.pk]["uptime"] == 87.5  # 7 of 8
    assert history[no_probe.pk]["uptime"] is None


@time_machine.travel(NOW, tick=False)
def test_worst_status_per_day_from_incident_history(manager):
    api = component(name="API")
    with time_machine.travel(datetime(2026, 6, 20, 22, 0, tzinfo=UTC), tick=False):
        minor = declare(actor=manager, level=3, service=api.service, title="Slow")
    with time_machine.travel(datetime(2026, 6, 21, 1, 0, tzinfo=UTC), tick=False):
        major = declare(actor=manager, level=1, service=api.service, title="Down")
        incidents.resolve(incident=major, actor=manager)
    with time_machine.travel(datetime(2026, 6, 21, 3, 0, tzinfo=UTC), tick=False):
        incidents.resolve(incident=minor, actor=manager)
    drill_day = datetime(2026, 6, 25, 9, 0, tzinfo=UTC)
    with time_machine.travel(drill_day, tick=False):
        drill = declare(actor=manager, level=1, service=api.service, drill=True)
        incidents.resolve(incident=drill, actor=manager)

    days = {
        d["date"].isoformat(): d["status"] for d in selectors.daily_history([api], now=NOW)[api.pk]["days"]
    }
    assert days["2026-06-19"] == "operational"
    assert days["2026-06-20"] == "degraded_performance"
    assert days["2026-06-21"] == "major_outage"  # worst of the day
    assert days["2026-06-22"] == "operational"
    assert days["2026-06-25"] == "operational"  # drills never show


@time_machine.travel(NOW, tick=False)
def test_open_incident_colours_until_today(manager):
    api = component(name="API")
    with time_machine.travel(datetime(2026, 6, 29, 8, 0, tzinfo=UTC), tick=False):
        declare(actor=manager, level=2, service=api.service)
    days = selectors.daily_history([api], now=NOW)[api.pk]["days"]
    assert [d["status"] for d in days[-3:]] == ["operational", "partial_outage", "partial_outage"]
