"""The on-call rotation engine: schedule definitions in, final shifts out. No ORM in here.

A schedule has layers (lowest first) and overrides. Each layer hands off on *local wall time*
in the schedule's zone: the k-th handoff of a layer that starts on ``start`` at ``handoff``
with a rotation of N days is at ``start + k*N days`` at ``handoff`` local time, resolved with
``opsportal.timeutil.localize`` (a wall time skipped by spring-forward happens at the
transition instant; one that occurs twice happens at its first occurrence). So a weekly shift
that spans a DST change lasts 167 or 169 hours, and Monday 09:00 stays Monday 09:00. Hourly
rotations count wall-clock hours too (12-hour shifts stay 09:00/21:00 all year); a shift that
DST squeezes to zero length (01:00-02:00 hourly on spring-forward night) is dropped and its
person simply misses that turn.

Restrictions limit a layer to weekly windows ("Mon-Fri 09:00-17:00", "every day 22:00-06:00"):
the layer covers only the part of each shift inside a window; outside, lower layers show through.

Final schedule: overrides over higher layers over lower layers; among overlapping overrides the
later one in the list wins. Times nobody covers are gaps.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsportal.timeutil import localize, require_aware, zone

HOURS = "hours"
DAYS = "days"
WEEKS = "weeks"
UNITS = (HOURS, DAYS, WEEKS)


@dataclass(frozen=True)
class Restriction:
    """A weekly window in the schedule's zone: on each of ``weekdays`` (0 = Monday), from
    ``start`` to ``end`` local time. ``end <= start`` crosses midnight (22:00-06:00 ends the
    next morning); ``end == start`` is the whole 24 hours from ``start``."""

    weekdays: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.weekdays or not set(self.weekdays) <= set(range(7)):
            raise ValueError("restriction weekdays must be a non-empty subset of 0..6")


@dataclass(frozen=True)
class Layer:
    id: Hashable
    participants: tuple[Hashable, ...]
    rotation_unit: str
    rotation_length: int
    start: date
    handoff: time
    end: datetime | None = None
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if self.rotation_unit not in UNITS:
            raise ValueError(f"rotation unit must be one of {UNITS}")
        if self.rotation_length < 1:
            raise ValueError("rotation length must be at least 1")
        if self.end is not None:
            require_aware(self.end)


@dataclass(frozen=True)
class Override:
    id: Hashable
    user: Hashable
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    layers: tuple[Layer, ...] = ()  # lowest first: later layers sit on top
    overrides: tuple[Override, ...] = ()  # later wins among overlapping overrides
    # (person, instant) pairs: people who left (identity.Departure). From that instant on,
    # their turns and overrides cover nothing, so the time shows as a gap (lower layers show
    # through) instead of paging someone who is gone.
    departed: tuple[tuple[Hashable, datetime], ...] = ()


@dataclass(slots=True)
class Shift:
    """One stretch of time with one person on call. ``layer``/``index`` name the rotation turn
    it comes from (``index`` = k-th turn of that layer), ``override`` the override id."""

    start: datetime
    end: datetime
    user: Hashable
    layer: Hashable | None = None
    index: int | None = None
    override: Hashable | None = None
    part: int = field(default=0, compare=False)

    @property
    def is_override(self) -> bool:
        return self.override is not None

    @property
    def key(self) -> str:
        """Stable identity across recomputations (iCal UIDs): the turn or override, plus the
        part number when an override splits a turn."""
        base = f"o{self.override}" if self.is_override else f"l{self.layer}-k{self.index}"
        return f"{base}-p{self.part}" if self.part else base

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


# --- one layer ---------------------------------------------------------------------------


def _period(layer: Layer) -> timedelta:
    if layer.rotation_unit == HOURS:
        return timedelta(hours=layer.rotation_length)
    return timedelta(days=layer.rotation_length * (7 if layer.rotation_unit == WEEKS else 1))


def _wall_to_utc(naive: datetime, z: ZoneInfo) -> datetime:
    """``localize`` for a naive wall time, with a fast path for the common case (the wall time
    exists): one offset lookup and one check instead of the general search."""
    off = naive.replace(tzinfo=z).utcoffset()  # fold=0: the first occurrence when ambiguous
    utc = (naive - off).replace(tzinfo=UTC)
    if utc.astimezone(z).utcoffset() == off:
        return utc
    return localize(naive.date(), naive.time(), z)  # skipped by a DST jump: the portal's rule


def _handoff(layer: Layer, z: ZoneInfo, k: int) -> datetime:
    return _wall_to_utc(datetime.combine(layer.start, layer.handoff) + _period(layer) * k, z)


def _first_turn(layer: Layer, z: ZoneInfo, at: datetime) -> int:
    """A turn index at or before the one covering ``at`` (never negative)."""
    local = at.astimezone(z).replace(tzinfo=None)
    origin = datetime.combine(layer.start, layer.handoff)
    return max(0, (local - origin) // _period(layer) - 2)


def _restriction_windows(
    restrictions: Sequence[Restriction], z: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Merged restriction windows (UTC) overlapping [start, end)."""
    windows = []
    day = start.astimezone(z).date() - timedelta(days=1)
    last = end.astimezone(z).date()
    while day <= last:
        wd = day.weekday()
        for r in restrictions:
            if wd in r.weekdays:
                w_start = _wall_to_utc(datetime.combine(day, r.start), z)
                end_day = day + timedelta(days=1) if r.end <= r.start else day
                w_end = _wall_to_utc(datetime.combine(end_day, r.end), z)
                if w_end > start and w_start < end and w_end > w_start:
                    windows.append((w_start, w_end))
        day += timedelta(days=1)
    windows.sort()
    merged: list[list[datetime]] = []
    for s, e in windows:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def layer_shifts(layer: Layer, tz: str | ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The layer's own shifts overlapping [start, end), restrictions applied, not clipped."""
    z = zone(tz)
    n = len(layer.participants)
    if n == 0 or end <= start:
        return []
    shifts: list[Shift] = []
    k = _first_turn(layer, z, start)
    origin = datetime.combine(layer.start, layer.handoff)
    period = _period(layer)
    naive = origin + period * k
    h = _wall_to_utc(naive, z)
    off = h.astimezone(z).utcoffset()
    stop = end if layer.end is None else min(end, layer.end)
    people, lid = layer.participants, layer.id
    while h < stop:
        naive += period
        # Fast path: the offset of the previous handoff still holds at this one (no DST change
        # in between), which one lookup proves; otherwise resolve with the portal's rules.
        nxt = (naive - off).replace(tzinfo=UTC)
        if nxt.astimezone(z).utcoffset() != off:
            nxt = _wall_to_utc(naive, z)
            off = nxt.astimezone(z).utcoffset()
        s_end = nxt if layer.end is None or nxt < layer.end else layer.end
        if s_end > start and s_end > h:
            shifts.append(Shift(h, s_end, people[k % n], lid, k))
        k += 1
        h = nxt
    if not layer.restrictions or not shifts:
        return shifts
    windows = _restriction_windows(layer.restrictions, z, shifts[0].start, shifts[-1].end)
    restricted: list[Shift] = []
    i = 0
    for sh in shifts:
        while i < len(windows) and windows[i][1] <= sh.start:
            i += 1
        j = i
        while j < len(windows) and windows[j][0] < sh.end:
            s, e = max(sh.start, windows[j][0]), min(sh.end, windows[j][1])
            if e > s:
                restricted.append(Shift(s, e, sh.user, sh.layer, sh.index))
            j += 1
    return restricted


# --- the final schedule -----------------------------------------------------------------


def _intersect(shifts: list[Shift], windows: list[tuple[datetime, datetime]]) -> list[Shift]:
    """The parts of sorted, disjoint ``shifts`` inside sorted, disjoint ``windows``."""
    out: list[Shift] = []
    j, m = 0, len(windows)
    for sh in shifts:
        s0 = sh.start
        while j < m and windows[j][1] <= s0:
            j += 1
        if j == m:
            break
        if windows[j][0] <= s0 and sh.end <= windows[j][1]:
            out.append(sh)  # the common case: wholly inside one window
            continue
        w = j
        while w < m and windows[w][0] < sh.end:
            a = sh.start if sh.start > windows[w][0] else windows[w][0]
            b = sh.end if sh.end < windows[w][1] else windows[w][1]
            if b > a:
                out.append(
                    sh
                    if (a == sh.start and b == sh.end)
                    else Shift(a, b, sh.user, sh.layer, sh.index, sh.override)
                )
            w += 1
    return out


def _subtract(
    windows: list[tuple[datetime, datetime]], taken: list[Shift]
) -> list[tuple[datetime, datetime]]:
    """``windows`` minus the (sorted, disjoint) ``taken`` intervals."""
    out: list[tuple[datetime, datetime]] = []
    j, m = 0, len(taken)
    for ws, we in windows:
        cursor = ws
        while j < m and taken[j].end <= cursor:
            j += 1
        k = j
        while k < m and taken[k].start < we:
            if taken[k].start > cursor:
                out.append((cursor, taken[k].start))
            if taken[k].end > cursor:
                cursor = taken[k].end
            k += 1
        if cursor < we:
            out.append((cursor, we))
    return out


def _flatten_overrides(overrides: Sequence[Override], start: datetime, end: datetime) -> list[Shift]:
    """Overlapping overrides resolved (the later one wins), clipped to the window."""
    painted: list[Shift] = []
    for o in overrides:
        a, b = max(o.start.astimezone(UTC), start), min(o.end.astimezone(UTC), end)
        if b <= a:
            continue
        kept = []
        for sh in painted:
            if sh.end <= a or sh.start >= b:
                kept.append(sh)
                continue
            if sh.start < a:
                kept.append(Shift(sh.start, a, sh.user, override=sh.override))
            if sh.end > b:
                kept.append(Shift(b, sh.end, sh.user, override=sh.override))
        kept.append(Shift(a, b, o.user, override=o.id))
        kept.sort(key=_by_start)
        painted = kept
    return painted


def _vacate(shifts: list[Shift], gone: dict) -> list[Shift]:
    """``shifts`` without the time after their person left (``gone``: person -> instant)."""
    if not gone:
        return shifts
    out = []
    for sh in shifts:
        left = gone.get(sh.user)
        if left is None or left >= sh.end:
            out.append(sh)
        elif left > sh.start:
            out.append(Shift(sh.start, left, sh.user, sh.layer, sh.index, sh.override))
    return out


def _by_start(sh: Shift) -> datetime:
    return sh.start


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call over [start, end): ordered, non-overlapping shifts clipped to the window.

    Painted top-down: overrides first, then each layer from the highest, each filling only the
    time still uncovered - so a lower layer is expanded only where the ones above leave gaps.
    """
    start, end = require_aware(start).astimezone(UTC), require_aware(end).astimezone(UTC)
    if end <= start:
        return []
    z = zone(schedule.time_zone)
    gone = dict(schedule.departed)
    pieces = _vacate(_flatten_overrides(schedule.overrides, start, end), gone)
    free = _subtract([(start, end)], pieces)
    for layer in reversed(schedule.layers):
        if not free:
            break
        found = _intersect(_vacate(layer_shifts(layer, z, free[0][0], free[-1][1]), gone), free)
        if found:
            pieces.extend(found)
            free = _subtract(free, found)
    pieces.sort(key=_by_start)
    parts: dict[tuple, int] = {}
    for sh in pieces:
        ident = (sh.layer, sh.index, sh.override)
        part = parts.get(ident, -1) + 1
        parts[ident] = part
        sh.part = part
    return pieces


def on_call_at(schedule: Schedule, at: datetime, context: timedelta = timedelta(days=2)) -> Shift | None:
    """The final shift covering ``at``; its start and end are clipped to ``at +/- context``
    (a single-person layer's turn can be long: callers showing "until" get a true bound)."""
    for sh in final_shifts(schedule, at - context, at + context):
        if sh.start <= at < sh.end:
            return sh
    return None


def next_on_call(schedule: Schedule, at: datetime, horizon: timedelta = timedelta(days=62)) -> Shift | None:
    """The first shift after the current one with a different person (or the first shift at
    all when nobody is on call at ``at``). Looks 2 days ahead first, then further."""
    for ahead in (timedelta(days=2), timedelta(days=9), horizon):
        ahead = min(ahead, horizon)
        shifts = final_shifts(schedule, at, at + ahead)
        current = shifts[0].user if shifts and shifts[0].start <= at else None
        for sh in shifts:
            if sh.start > at and sh.user != current:
                return sh
        if ahead >= horizon:
            break
    return None


def gaps(shifts: Iterable[Shift], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Stretches of [start, end) that no shift covers."""
    holes = []
    cursor = start
    for sh in sorted(shifts, key=lambda s: s.start):
        if sh.start > cursor:
            holes.append((cursor, min(sh.start, end)))
        cursor = max(cursor, sh.end)
        if cursor >= end:
            break
    if cursor < end:
        holes.append((cursor, end))
    return [(s, e) for s, e in holes if e > s]


NIGHT_START = time(22, 0)
NIGHT_END = time(7, 0)


@dataclass
class Load:
    hours: float = 0.0
    night_hours: float = 0.0  # 22:00-07:00 local, any day
    weekend_hours: float = 0.0  # Saturday and Sunday local, day time (nights counted as nights)
    shifts: int = 0


def fairness(shifts: Iterable[Shift], tz: str | ZoneInfo) -> dict[Hashable, Load]:
    """Hours on call per person, with nights and weekends counted separately (local time)."""
    z = zone(tz)
    loads: dict[Hashable, Load] = {}
    for sh in shifts:
        load = loads.setdefault(sh.user, Load())
        load.shifts += 1
        load.hours += sh.hours
        day = sh.start.astimezone(z).date() - timedelta(days=1)
        while True:
            midnight = localize(day, time(0), z)
            if midnight >= sh.end:
                break
            morning = localize(day, NIGHT_END, z)
            evening = localize(day, NIGHT_START, z)
            next_midnight = localize(day + timedelta(days=1), time(0), z)
            pieces = ((midnight, morning, True), (morning, evening, False), (evening, next_midnight, True))
            for p_start, p_end, night in pieces:
                overlap = (min(p_end, sh.end) - max(p_start, sh.start)).total_seconds() / 3600
                if overlap > 0:
                    if night:
                        load.night_hours += overlap
                    elif day.weekday() >= 5:
                        load.weekend_hours += overlap
            day += timedelta(days=1)
    return loads
