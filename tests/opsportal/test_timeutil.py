from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.test import override_settings

from opsportal import timeutil
from opsportal.links import absolute_url


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected_utc"),
    [
        # spring forward: 02:30 does not exist -> the transition instant (03:00 local)
        ("Europe/Berlin", date(2026, 3, 29), time(2, 30), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 15), datetime(2026, 10, 3, 16, 0, tzinfo=UTC)),
        # fall back: 02:30 happens twice -> the first occurrence (still summer time)
        ("Europe/Berlin", date(2026, 10, 25), time(2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("America/New_York", date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # ordinary days, non-hour offset
        ("Asia/Kolkata", date(2026, 6, 1), time(9, 0), datetime(2026, 6, 1, 3, 30, tzinfo=UTC)),
    ],
)
def test_localize_dst_rules(tz, day, at, expected_utc):
    assert timeutil.localize(day, at, tz) == expected_utc


def test_add_business_days_skips_weekends_and_keeps_wall_time_across_dst():
    friday = datetime(2026, 3, 27, 13, 0, tzinfo=UTC)  # 14:00 CET
    result = timeutil.add_business_days(friday, 1, "Europe/Berlin")
    assert result.astimezone(timeutil.zone("Europe/Berlin")).replace(tzinfo=None) == datetime(
        2026, 3, 30, 14, 0
    )
    assert result - friday == timedelta(days=3) - timedelta(hours=1)  # the clocks moved on Sunday


def test_add_business_days_from_weekend_and_over_holidays():
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert timeutil.add_business_days(saturday, 0, "UTC").date() == date(2026, 11, 30)
    assert timeutil.add_business_days(saturday, 2, "UTC", holidays=[date(2026, 12, 1)]).date() == date(
        2026, 12, 3
    )
    with pytest.raises(ValueError, match=">= 0"):
        timeutil.add_business_days(saturday, -1, "UTC")


def test_next_business_day_start():
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert timeutil.next_business_day_start(friday_evening, "Europe/Berlin") == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC
    )


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        timeutil.to_utc(datetime(2026, 1, 1))


@override_settings(SITE_URL="https://ops.example.com")
def test_absolute_url():
    assert absolute_url("/admin/") == "https://ops.example.com/admin/"
    assert absolute_url("https://elsewhere.example/x") == "https://elsewhere.example/x"
