"""Weeks are [Monday 00:00, next Monday 00:00) local time in TIME_ZONE, across both DST changes
of a year: the API's per_week, the trend selector and the dashboard's trend charts all agree
with an independent computation (zoneinfo in Python, no database)."""

import itertools
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from metrics import selectors
from metrics.selectors import Filters
from tests.factories import TeamFactory
from tests.metrics import factories

# zone -> (spring change Sunday, autumn change Sunday) in 2026
ZONES = {
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
}


def local(tz: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def week_of(instant: datetime, tz: ZoneInfo) -> datetime:
    """The independent answer: local date, back to Monday, local midnight."""
    day = instant.astimezone(tz).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(0), tzinfo=tz)


def incidents_around(tz: ZoneInfo, change: date) -> list[datetime]:
    """23:30 local on the Sunday before the change, on the change Sunday and the Sunday after;
    00:30 local on the Monday after the change (the first minutes of a new week)."""
    return [
        local(tz, change - timedelta(days=7), 23, 30),
        local(tz, change, 23, 30),
        local(tz, change + timedelta(days=7), 23, 30),
        local(tz, change + timedelta(days=1), 0, 30),
    ]


@pytest.fixture(params=list(ZONES))
def zone_world(request, db, settings):
    settings.TIME_ZONE = request.param
    tz = ZoneInfo(request.param)
    team = TeamFactory()
    spring, autumn = ZONES[request.param]
    detected = incidents_around(tz, spring) + incidents_around(tz, autumn)
    for n, when in enumerate(detected):
        factories.create(detected_at=when, ttd=5, ttm=10, ttr=ttr_minutes(n), team=team)
    return tz, detected


def ttr_minutes(n: int) -> int:
    return 20 + 7 * n


def test_incident_at_sunday_2330_is_counted_in_its_own_local_week(zone_world):
    tz, detected = zone_world
    spring, autumn = ZONES[str(tz)]
    # the hand-checked answer, before trusting the independent one
    assert week_of(local(tz, autumn, 23, 30), tz) == local(tz, autumn - timedelta(days=6), 0)
    assert week_of(local(tz, spring + timedelta(days=1), 0, 30), tz) == local(
        tz, spring + timedelta(days=1), 0
    )
    filters = Filters(
        start=selectors.day_start(date(2026, 3, 1)), end=selectors.day_start(date(2026, 11, 16))
    )
    per_week = selectors.frequency(filters)["per_week"]
    expected = Counter(week_of(d, tz) for d in detected)
    starts = [w["week_start"] for w in per_week]
    # consecutive local Mondays, from the week holding the period's first day (Sunday 1 March)
    assert starts[0] == local(tz, date(2026, 2, 23), 0)
    assert starts[-1] == local(tz, date(2026, 11, 9), 0)
    assert all(s.astimezone(tz).time() == time(0) and s.astimezone(tz).weekday() == 0 for s in starts)
    assert [b.astimezone(tz).date() - a.astimezone(tz).date() for a, b in itertools.pairwise(starts)] == [
        timedelta(days=7)
    ] * (len(starts) - 1)
    assert {w["week_start"]: w["count"] for w in per_week if w["count"]} == dict(expected)
    assert sum(w["count"] for w in per_week) == len(detected)


def test_api_per_week(zone_world, api_as, manager):
    tz, detected = zone_world
    body = api_as(manager).get("/api/v1/metrics/", {"start": "2026-03-01", "end": "2026-11-15"}).json()
    got = {datetime.fromisoformat(w["week_start"]): w["count"] for w in body["frequency"]["per_week"]}
    assert {k: v for k, v in got.items() if v} == dict(Counter(week_of(d, tz) for d in detected))
    assert all(k.astimezone(tz).time() == time(0) and k.astimezone(tz).weekday() == 0 for k in got)


@pytest.mark.parametrize("season", [0, 1], ids=["spring", "autumn"])
def test_trends_and_dashboard_charts_use_local_weeks(zone_world, season, manager, client):
    tz, detected = zone_world
    change = ZONES[str(tz)][season]
    now = local(tz, change + timedelta(days=17), 12)
    with time_machine.travel(now, tick=False):
        trend = selectors.trends(Filters(start=now - timedelta(days=30), end=now))
        client.force_login(manager)
        html = client.get("/admin/").content.decode()
    weeks = trend["weeks"]
    assert len(weeks) == 12
    assert weeks[-1]["week_start"] == week_of(now, tz)
    assert trend["origin"] == weeks[0]["week_start"]
    in_range = [d for d in detected if weeks[0]["week_start"] <= d <= now]
    expected = Counter(week_of(d, tz) for d in in_range)
    got = {w["week_start"]: sum(w["by_severity"].values()) for w in weeks}
    assert {k: v for k, v in got.items() if v} == dict(expected)
    assert all(w["week_start"].astimezone(tz).weekday() == 0 for w in weeks)
    # medians per week (the SQLite fallback groups by the same local weeks as the counts)
    ttr_by_week = defaultdict(list)
    for n, d in enumerate(detected):
        if d in in_range:
            ttr_by_week[week_of(d, tz)].append(ttr_minutes(n) * 60.0)
    assert {w["week_start"]: w["median_time_to_resolve"] for w in weeks if w["median_time_to_resolve"]} == {
        monday: statistics.median(values) for monday, values in ttr_by_week.items()
    }
    # the dashboard's bar chart: one tooltip per week, labelled with the local Monday
    chart = html.split("<title>Incidents per week by severity</title>", 1)[1].split("</svg>", 1)[0]
    totals = dict(re.findall(r"<title>Week of (\w{3} \d{2}): (\d+) incidents</title>", chart))
    assert totals == {f"{w['week_start'].astimezone(tz):%b %d}": str(got[w["week_start"]]) for w in weeks}
    for monday, count in expected.items():
        assert totals[f"{monday:%b %d}"] == str(count)


def test_timeutil_weeks_follow_the_wall_clock():
    from datetime import UTC

    from opsportal import timeutil

    london = ZoneInfo("Europe/London")
    # Sunday 25 October 2026, 23:30 GMT (clocks went back that morning): week of Monday 19th,
    # which started at 00:00 BST = 23:00 UTC on the 18th
    assert timeutil.week_start(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), london) == datetime(
        2026, 10, 18, 23, 0, tzinfo=UTC
    )
    # Monday 30 March 2026, 00:30 BST = 23:30 UTC on Sunday: already the new week
    assert timeutil.week_start(datetime(2026, 3, 29, 23, 30, tzinfo=UTC), london) == datetime(
        2026, 3, 29, 23, 0, tzinfo=UTC
    )
    spring = timeutil.week_start(datetime(2026, 3, 25, tzinfo=UTC), london)
    autumn = timeutil.week_start(datetime(2026, 10, 21, tzinfo=UTC), london)
    assert timeutil.week_start(spring + timedelta(days=8), london) - spring == timedelta(hours=167)
    assert timeutil.week_start(autumn + timedelta(days=8), london) - autumn == timedelta(hours=169)
    # [start, end): a period ending exactly at a Monday midnight does not reach that week
    start = local(london, date(2026, 3, 4), 0)
    assert timeutil.week_mondays(start, local(london, date(2026, 3, 16), 0), london) == [
        date(2026, 3, 2), date(2026, 3, 9),
    ]  # fmt: skip
    assert timeutil.week_mondays(start, start, london) == []
