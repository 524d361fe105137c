"""Helpers the three readers share: time parsing, restriction splitting, unit choice."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from importers.org import Restriction


class Malformed(ValueError):
    """An object the reader cannot understand: reported, then skipped."""


def aware(value) -> datetime:
    if not isinstance(value, str):
        raise Malformed(f"expected a timestamp, got {value!r}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"not a timestamp: {value!r}") from None
    if dt.tzinfo is None:
        raise Malformed(f"timestamp without a zone: {value!r}")
    return dt


def zone(name) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise Malformed(f"unknown time zone {name!r}") from None


def unit_for(seconds: int) -> tuple[str, int] | None:
    """Ops Portal's rotation (unit, length) for a turn of ``seconds``, or None."""
    if seconds <= 0:
        return None
    if seconds % (7 * 86400) == 0:
        return "weeks", seconds // (7 * 86400)
    if seconds % 86400 == 0:
        return "days", seconds // 86400
    if seconds % 3600 == 0:
        return "hours", seconds // 3600
    return None


def window(weekday: int, start: time, seconds: int) -> list[Restriction]:
    """A window starting on ``weekday`` at ``start`` lasting ``seconds`` (up to a week), as
    Ops Portal restrictions: one when it fits in 24 hours, else split at midnights."""
    if seconds <= 0 or seconds > 7 * 86400:
        raise Malformed(f"restriction of {seconds} s")
    if seconds <= 86400:
        end = _after(start, seconds)
        return [Restriction([weekday], start, end)]
    out = []
    first = 86400 - (start.hour * 3600 + start.minute * 60 + start.second)
    out.append(Restriction([weekday], start, time(0)))
    left, day = seconds - first, (weekday + 1) % 7
    while left >= 86400:
        out.append(Restriction([day], time(0), time(0)))
        left, day = left - 86400, (day + 1) % 7
    if left:
        out.append(Restriction([day], time(0), _after(time(0), left)))
    return out


def _after(start: time, seconds: int) -> time:
    """The wall time ``seconds`` after ``start`` (modulo a day): window arithmetic, no zone."""
    total = (start.hour * 3600 + start.minute * 60 + start.second + seconds) % 86400
    return time(total // 3600, total % 3600 // 60, total % 60)


def merge_days(restrictions: list[Restriction]) -> list[Restriction]:
    """Same window on several days: one restriction naming all the days."""
    by_window: dict[tuple[time, time], set[int]] = {}
    for r in restrictions:
        by_window.setdefault((r.start, r.end), set()).update(r.weekdays)
    return [Restriction(sorted(days), s, e) for (s, e), days in by_window.items()]
