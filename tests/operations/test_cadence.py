"""The pure due-point engine: every cadence kind, across DST changes and month ends."""

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operations import cadence as engine
from operations.cadence import Cadence, apply_check_in


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def series(c: Cadence, n: int, after: datetime | None = None) -> list[datetime]:
    p = c.first() if after is None else c.next_after(after)
    out = [p]
    for _ in range(n - 1):
        p = c.next_after(p)
        out.append(p)
    return out


# --- every kind --------------------------------------------------------------------------------
def test_daily_keeps_local_wall_time_across_both_dst_changes_in_berlin():
    c = Cadence(engine.DAILY, "Europe/Berlin", date(2026, 3, 27), time(9, 0))
    assert series(c, 4) == [
        utc(2026, 3, 27, 8, 0),  # CET
        utc(2026, 3, 28, 8, 0),
        utc(2026, 3, 29, 7, 0),  # CEST from 29 March: still 09:00 local
        utc(2026, 3, 30, 7, 0),
    ]
    autumn = Cadence(engine.DAILY, "Europe/Berlin", date(2026, 10, 24), time(9, 0))
    assert series(autumn, 3) == [utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0), utc(2026, 10, 26, 8, 0)]


def test_daily_due_in_the_skipped_hour_happens_at_the_jump_and_ambiguous_at_first_occurrence():
    spring = Cadence(engine.DAILY, "America/New_York", date(2026, 3, 7), time(2, 30))
    assert series(spring, 3) == [
        utc(2026, 3, 7, 7, 30),  # EST 02:30
        utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT, the transition instant
        utc(2026, 3, 9, 6, 30),  # EDT 02:30
    ]
    fall = Cadence(engine.DAILY, "America/New_York", date(2026, 10, 31), time(1, 30))
    assert series(fall, 3) == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_weekly_and_fortnightly_keep_the_weekday_across_dst():
    weekly = Cadence(engine.WEEKLY, "Europe/London", date(2026, 3, 23), time(10, 0))  # a Monday
    assert series(weekly, 3) == [utc(2026, 3, 23, 10, 0), utc(2026, 3, 30, 9, 0), utc(2026, 4, 6, 9, 0)]
    assert all(p.astimezone(weekly.zone).weekday() == 0 for p in series(weekly, 20))
    fortnightly = Cadence(engine.FORTNIGHTLY, "Europe/London", date(2026, 10, 19), time(10, 0))
    assert series(fortnightly, 3) == [
        utc(2026, 10, 19, 9, 0),
        utc(2026, 11, 2, 10, 0),
        utc(2026, 11, 16, 10, 0),
    ]


def test_monthly_on_the_31st_clamps_to_the_last_day_and_comes_back():
    c = Cadence(engine.MONTHLY, "UTC", date(2026, 1, 31), time(12, 0))
    days = [p.date() for p in series(c, 6)]
    assert days == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30),
    ]  # fmt: skip
    leap = Cadence(engine.MONTHLY, "UTC", date(2028, 1, 30), time(12, 0))
    assert [p.date() for p in series(leap, 3)] == [date(2028, 1, 30), date(2028, 2, 29), date(2028, 3, 30)]


def test_monthly_across_year_end_and_dst_in_sydney():
    c = Cadence(engine.MONTHLY, "Australia/Sydney", date(2026, 9, 30), time(9, 0))
    assert series(c, 5) == [
        utc(2026, 9, 29, 23, 0),  # AEST +10
        utc(2026, 10, 29, 22, 0),  # AEDT +11 after 4 October
        utc(2026, 11, 29, 22, 0),
        utc(2026, 12, 29, 22, 0),
        utc(2027, 1, 29, 22, 0),  # 30 January 09:00 local, next year
    ]


def test_quarterly_clamps_and_steps_three_months():
    c = Cadence(engine.QUARTERLY, "UTC", date(2026, 11, 30), time(8, 0))
    assert [p.date() for p in series(c, 4)] == [
        date(2026, 11, 30), date(2027, 2, 28), date(2027, 5, 30), date(2027, 8, 30),
    ]  # fmt: skip


def test_cron_in_local_time_across_dst():
    c = Cadence(engine.CRON, "Europe/Berlin", date(2026, 3, 26), cron="30 2 * * *")
    assert series(c, 4) == [
        utc(2026, 3, 26, 1, 30),
        utc(2026, 3, 27, 1, 30),
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),  # 02:30 skipped: at the jump (03:00 CEST)
    ]
    autumn = Cadence(engine.CRON, "Europe/Berlin", date(2026, 10, 24), cron="30 2 * * *")
    # 02:30 happens twice on 25 October: due once, at the first occurrence
    assert series(autumn, 3) == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_cron_weekdays_and_no_points_before_the_first_due_date():
    c = Cadence(engine.CRON, "UTC", date(2026, 11, 25), cron="0 9 * * 1-5")
    assert c.first() == utc(2026, 11, 25, 9, 0)
    assert c.latest_at_or_before(utc(2026, 11, 25, 8, 59)) is None
    assert c.next_after(utc(2026, 11, 27, 9, 0)) == utc(2026, 11, 30, 9, 0)  # Friday -> Monday
    assert c.latest_at_or_before(utc(2026, 11, 29, 12, 0)) == utc(2026, 11, 27, 9, 0)
    assert c.count(utc(2026, 11, 25, 9, 0), utc(2026, 12, 2, 9, 0)) == 5


@pytest.mark.parametrize(
    ("kind", "cron", "message"),
    [
        (engine.CRON, "* * * * *", "once an hour"),
        (engine.CRON, "0 9 30 2 *", "invalid cron"),
        (engine.CRON, "0 9 * *", "five fields"),
        (engine.CRON, "", "give a cron"),
        (engine.WEEKLY, "0 9 * * 1", "only goes with"),
        ("yearly", "", "unknown cadence"),
    ],
)
def test_invalid_cadences_are_refused(kind, cron, message):
    with pytest.raises(ValueError, match=message):
        Cadence(kind, "UTC", date(2026, 1, 1), cron=cron)


def test_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="IANA"):
        Cadence(engine.DAILY, "Mars/Olympus", date(2026, 1, 1))


def test_latest_and_previous_agree_with_next_after():
    c = Cadence(engine.MONTHLY, "Europe/Berlin", date(2026, 1, 31), time(9, 0))
    pts = series(c, 8)
    for a, b in itertools.pairwise(pts):
        assert c.previous(b) == a
        assert c.latest_at_or_before(b) == b
        assert c.latest_at_or_before(b - timedelta(seconds=1)) == a
    assert c.previous(pts[0]) is None
    assert c.count(pts[0], pts[5]) == 5


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from([engine.DAILY, engine.WEEKLY, engine.FORTNIGHTLY, engine.MONTHLY, engine.QUARTERLY]),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]),
    first=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    at=st.times(),
    probe=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 1, 1)),
)
def test_next_after_is_strictly_after_and_nothing_is_skipped(kind, tz, first, at, probe):
    c = Cadence(kind, tz, first, at.replace(microsecond=0))
    t = probe.replace(tzinfo=UTC)
    nxt = c.next_after(t)
    assert nxt > t
    latest = c.latest_at_or_before(t)
    if latest is not None:
        assert latest <= t
        assert c.next_after(latest) == nxt  # no due point hides between them
    else:
        assert nxt == c.first()


# --- check-ins -------------------------------------------------------------------------------
WEEKLY = Cadence(engine.WEEKLY, "UTC", date(2026, 11, 6), time(9, 0))  # Fridays 09:00
FRI = utc(2026, 11, 27, 9, 0)


def test_on_time_check_in_covers_the_pending_point_and_resets_the_clock():
    cov = apply_check_in(WEEKLY, pending=FRI, at=FRI - timedelta(days=1))
    assert (cov.covers, cov.late, cov.missed, cov.next_due) == (FRI, False, 0, FRI + timedelta(weeks=1))


def test_check_in_exactly_at_the_due_point_is_on_time():
    cov = apply_check_in(WEEKLY, pending=FRI, at=FRI)
    assert not cov.late


def test_late_check_in_covers_the_latest_passed_point_and_counts_the_missed_ones():
    cov = apply_check_in(WEEKLY, pending=FRI, at=FRI + timedelta(weeks=2, hours=3))
    assert cov.covers == FRI + timedelta(weeks=2)
    assert cov.late
    assert cov.missed == 2
    assert cov.next_due == FRI + timedelta(weeks=3)


def test_a_second_check_in_in_a_done_cycle_is_refused():
    cov = apply_check_in(WEEKLY, pending=FRI, at=FRI - timedelta(days=2))
    with pytest.raises(engine.AlreadyDone):
        apply_check_in(WEEKLY, pending=cov.next_due, at=FRI - timedelta(days=1))


def test_history_and_streak_show_missed_cycles():
    since = utc(2026, 11, 6, 9, 0)
    covered = {
        utc(2026, 11, 6, 9, 0): (False, "a"),
        utc(2026, 11, 20, 9, 0): (True, "b"),  # 13 November was missed, 20th done late
        utc(2026, 11, 27, 9, 0): (False, "c"),
    }
    cycles = engine.history(
        WEEKLY, covered=covered, pending=utc(2026, 12, 4, 9, 0), since=since, now=utc(2026, 12, 1, 12, 0)
    )
    assert [(c.due_at.day, c.status) for c in cycles] == [
        (4, "upcoming"), (27, "done"), (20, "late"), (13, "missed"), (6, "done"),
    ]  # fmt: skip
    assert engine.streak(cycles) == 1
    overdue = engine.history(WEEKLY, covered={}, pending=since, since=since, now=utc(2026, 11, 21, 0, 0))
    assert [c.status for c in overdue] == ["upcoming", "overdue", "overdue", "overdue"]
    assert engine.streak(overdue) == 0
