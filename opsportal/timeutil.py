"""Time rules shared by every app: aware UTC storage, wall-clock rules in IANA zones.

Business days are Monday-Friday in a given zone, minus optional holidays. All functions take
aware datetimes and return aware UTC datetimes (an ambiguous local time never compares equal
across zones, PEP 495, so results are normalised to UTC); zones are ``ZoneInfo`` or IANA names.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKEND = frozenset({5, 6})  # Saturday, Sunday


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the portal only handles aware times")
    return dt


def to_utc(dt: datetime) -> datetime:
    return require_aware(dt).astimezone(UTC)


def is_business_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() not in WEEKEND and day not in set(holidays)


def localize(day: date, at: time, tz: str | ZoneInfo) -> datetime:
    """The instant at wall-clock ``at`` on ``day`` in ``tz``, with the portal's DST rules:

    - a wall time skipped by a spring-forward jump (02:30 when clocks go 02:00 -> 03:00)
      happens at the first valid instant after it: the transition itself (03:00 local);
    - a wall time that occurs twice (fall back) happens at its first occurrence.
    """
    z = zone(tz)
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=z, fold=0)
    if first.astimezone(UTC).astimezone(z).replace(tzinfo=None) == naive:
        return first.astimezone(UTC)  # exists (fold=0 is the first occurrence when ambiguous)
    # Non-existent: the transition lies between naive-minus-new-offset and naive-minus-old-offset.
    old_offset = first.utcoffset()
    new_offset = naive.replace(tzinfo=z, fold=1).utcoffset()
    lo = (naive - max(old_offset, new_offset)).replace(tzinfo=UTC)
    hi = (naive - min(old_offset, new_offset)).replace(tzinfo=UTC)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(z).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def add_business_days(
    start: datetime, days: int, tz: str | ZoneInfo, holidays: Iterable[date] = ()
) -> datetime:
    """``start`` moved forward by ``days`` business days at the same local wall time.

    Starting on a weekend or holiday counts from the next business day. The result keeps the
    local wall-clock time across DST changes (a postmortem due "5 business days after
    resolution at 14:00" is due at 14:00 local, whether the clocks moved or not).
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    z = zone(tz)
    local = require_aware(start).astimezone(z)
    hol = set(holidays)
    day = local.date()
    while not is_business_day(day, hol):
        day += timedelta(days=1)
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_business_day(day, hol):
            remaining -= 1
    return localize(day, local.time().replace(tzinfo=None), z)


def next_business_day_start(
    after: datetime, tz: str | ZoneInfo, start_of_day: time = time(9, 0), holidays: Iterable[date] = ()
) -> datetime:
    """Start of the next business day strictly after ``after``'s local date ("next business day" SLAs)."""
    z = zone(tz)
    day = require_aware(after).astimezone(z).date() + timedelta(days=1)
    hol = set(holidays)
    while not is_business_day(day, hol):
        day += timedelta(days=1)
    return localize(day, start_of_day, z)


def week_monday(day: date) -> date:
    """The Monday of ``day``'s week (weeks run Monday to Sunday)."""
    return day - timedelta(days=day.weekday())


def week_start(instant: datetime, tz: str | ZoneInfo) -> datetime:
    """The start of the local week holding ``instant``: Monday 00:00 wall time in ``tz`` (aware
    UTC; where midnight does not exist that Monday, the first instant of the day, as
    ``localize`` rules). A week is [Monday 00:00, next Monday 00:00) local, so it lasts 167,
    168 or 169 hours across DST changes: step by calendar days, never by 7 x 24 h."""
    z = zone(tz)
    return localize(week_monday(require_aware(instant).astimezone(z).date()), time.min, z)


def week_mondays(start: datetime, end: datetime, tz: str | ZoneInfo) -> list[date]:
    """The Monday of every local week that overlaps [start, end), oldest first."""
    z = zone(tz)
    if require_aware(end) <= require_aware(start):
        return []
    first = week_monday(start.astimezone(z).date())
    last = week_monday((end - timedelta(microseconds=1)).astimezone(z).date())
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def human_delta(delta: timedelta, *, precise: bool = False) -> str:
    """A duration for people: "2d 3h", "3h 12m", "12m" (negative reads as 0). ``precise``
    keeps the minutes on durations of days too ("2d 3h 12m"), for reports and postmortems."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m" if precise else f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


# --- One date/time format for people ---------------------------------------------------------
# Every page shows an instant the same way: absolute time in the viewer's zone (their profile's
# time zone, activated per request by opsportal.middleware.ViewerTimeZoneMiddleware) with a
# relative hint: "14:02 CET, 12 min ago". The date is added when it is not today ("Fri 4 Dec
# 14:02 CET") and the year when it is not this year. Templates use the ``when`` filter
# (opsportal/templatetags/ops_ui.py); the admin's own date cells go through the same function.


def relative_hint(instant: datetime, now: datetime) -> str:
    """ "just now", "12 min ago", "in 3 h 5 min", "4 days ago"; "" beyond eight weeks."""
    seconds = (require_aware(instant) - require_aware(now)).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    if seconds < 45:
        return "just now"
    minutes = round(seconds / 60)
    if minutes < 60:
        text = f"{minutes} min"
    elif minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} h {rest} min" if rest and hours < 6 else f"{round(minutes / 60)} h"
    elif minutes < 14 * 24 * 60:
        days = round(minutes / (24 * 60))
        text = f"{days} day{'s' if days != 1 else ''}"
    elif minutes < 8 * 7 * 24 * 60:
        text = f"{round(minutes / (7 * 24 * 60))} weeks"
    else:
        return ""
    return f"in {text}" if future else f"{text} ago"


def absolute_label(instant: datetime, now: datetime, tz: ZoneInfo) -> str:
    """ "14:02 CET" today, "Fri 4 Dec 14:02 CET" this year, "4 Dec 2025 14:02 CET" before."""
    local = require_aware(instant).astimezone(tz)
    today = require_aware(now).astimezone(tz).date()
    clock = f"{local:%H:%M} {local.tzname()}"
    if local.date() == today:
        return clock
    if local.year == today.year:
        return f"{local:%a} {local.day} {local:%b} {clock}"
    return f"{local.day} {local:%b %Y} {clock}"


def full_label(instant: datetime, tz: ZoneInfo) -> str:
    """The unambiguous tooltip: "Sunday 6 December 2026, 14:02:07 CET (Europe/Berlin)"."""
    local = require_aware(instant).astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M:%S} {local.tzname()} ({getattr(tz, 'key', tz)})"
