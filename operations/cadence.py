"""When a recurring duty is due: the pure engine behind next due, overdue and missed cycles.

A cadence is a series of *due points* (aware UTC instants). Built-in kinds repeat a local
wall-clock time from a first due date; ``cron`` follows a cron expression read in the
duty's zone. Wall-clock to instant always goes through ``opsportal.timeutil.localize``, so
DST follows the portal's rules everywhere (a skipped 02:30 happens at the jump, an
ambiguous 02:30 at its first occurrence). Monthly and quarterly duties keep their day of
month and clamp it to short months: "monthly on the 31st" is due on 30 April and on
28/29 February, and back on the 31st in May.

Check-ins (see :func:`apply_check_in`): a check-in counts for the duty's *pending* due
point when it happens before it (early or on time), and for the latest due point already
passed when it happens after the pending one (late); the due points in between are missed
and stay visible in the history. The next due point follows the one covered.

No ORM here: models and services feed plain values in, tests drive it directly.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from opsportal import timeutil

DAILY, WEEKLY, FORTNIGHTLY, MONTHLY, QUARTERLY, CRON = (
    "daily", "weekly", "fortnightly", "monthly", "quarterly", "cron",
)  # fmt: skip
KINDS = (DAILY, WEEKLY, FORTNIGHTLY, MONTHLY, QUARTERLY, CRON)
STEP_DAYS = {DAILY: 1, WEEKLY: 7, FORTNIGHTLY: 14}
STEP_MONTHS = {MONTHLY: 1, QUARTERLY: 3}
# A duty is a human cycle: cron expressions firing more often than hourly are refused.
MIN_CRON_GAP = timedelta(hours=1)
# How long before a due point a duty counts as "due soon" when the duty does not say.
DUE_SOON_DEFAULTS = {
    DAILY: timedelta(hours=2),
    WEEKLY: timedelta(days=1),
    FORTNIGHTLY: timedelta(days=2),
    MONTHLY: timedelta(days=3),
    QUARTERLY: timedelta(days=7),
}
# Cron points are searched this far around a wall-clock reading: covers any DST fold.
_FOLD_MARGIN = timedelta(hours=3)
_CRON_SEARCH_LIMIT = 20_000  # iterations; with >= 1 h between points, over two years


class AlreadyDone(ValueError):
    """The check-in falls in a cycle that is already done (the pending point is later)."""

    def __init__(self, next_due: datetime) -> None:
        super().__init__(f"this cycle is already done; next due {next_due.isoformat()}")
        self.next_due = next_due


@dataclass(frozen=True)
class Cadence:
    kind: str
    tz: str
    first_due_on: date
    due_time: time = time(9, 0)
    cron: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown cadence {self.kind!r}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{self.tz!r} is not an IANA time zone") from exc
        if self.kind == CRON:
            self._validate_cron()
        elif self.cron:
            raise ValueError("a cron expression only goes with the cron cadence")

    # --- the series -----------------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def starts_at(self) -> datetime:
        """No due point lies before this instant (midnight of the first due date, local)."""
        return timeutil.localize(self.first_due_on, time(0, 0), self.tz)

    def first(self) -> datetime:
        if self.kind == CRON:
            return self._cron_after(self.starts_at - timedelta(microseconds=1))
        return self._point(0)

    def next_after(self, t: datetime) -> datetime:
        """The first due point strictly after ``t``."""
        timeutil.require_aware(t)
        if self.kind == CRON:
            return self._cron_after(t)
        return self._point(self._index_after(t))

    def latest_at_or_before(self, t: datetime) -> datetime | None:
        """The most recent due point at or before ``t`` (None before the series starts)."""
        timeutil.require_aware(t)
        if self.kind == CRON:
            return self._cron_at_or_before(t)
        k = self._index_after(t) - 1
        return self._point(k) if k >= 0 else None

    def previous(self, point: datetime) -> datetime | None:
        """The due point strictly before ``point``."""
        return self.latest_at_or_before(point - timedelta(microseconds=1))

    def points(self, start: datetime, end: datetime, *, limit: int = 1000) -> Iterator[datetime]:
        """Due points p with start <= p <= end, oldest first, at most ``limit``."""
        p = self.next_after(start - timedelta(microseconds=1))
        n = 0
        while p <= end and n < limit:
            yield p
            n += 1
            p = self.next_after(p)

    def count(self, start: datetime, end: datetime) -> int:
        """How many due points p satisfy start <= p < end."""
        if end <= start:
            return 0
        if self.kind == CRON:
            return sum(1 for p in self.points(start, end, limit=_CRON_SEARCH_LIMIT) if p < end)
        return self._index_after(end - timedelta(microseconds=1)) - self._index_after(
            start - timedelta(microseconds=1)
        )

    def cycle_length(self, point: datetime) -> timedelta:
        """The gap from the previous due point to ``point`` (to the next one for the first)."""
        prev = self.previous(point)
        if prev is not None:
            return point - prev
        return self.next_after(point) - point

    def due_soon_window(self, point: datetime) -> timedelta:
        if self.kind in DUE_SOON_DEFAULTS:
            return min(DUE_SOON_DEFAULTS[self.kind], self.cycle_length(point) / 2)
        gap = self.cycle_length(point)
        return max(min(gap / 7, timedelta(days=3)), min(timedelta(hours=1), gap / 2))

    def describe(self, *, with_zone: bool = True) -> str:
        at = self.due_time.strftime("%H:%M")
        day = self.first_due_on
        if self.kind == DAILY:
            text = f"Daily at {at}"
        elif self.kind == WEEKLY:
            text = f"Weekly on {day:%A} at {at}"
        elif self.kind == FORTNIGHTLY:
            text = f"Every two weeks on {day:%A} at {at}"
        elif self.kind == MONTHLY:
            text = f"Monthly on day {day.day} at {at}" + (
                " (last day in shorter months)" if day.day > 28 else ""
            )
        elif self.kind == QUARTERLY:
            text = f"Quarterly on day {day.day} from {day:%B} at {at}"
        else:
            text = f"cron {self.cron}"
        return f"{text} ({self.tz})" if with_zone else text

    # --- built-in kinds ------------------------------------------------------------------
    def _day(self, k: int) -> date:
        first = self.first_due_on
        if self.kind in STEP_DAYS:
            return first + timedelta(days=k * STEP_DAYS[self.kind])
        months = first.month - 1 + k * STEP_MONTHS[self.kind]
        year, month = first.year + months // 12, months % 12 + 1
        return date(year, month, min(first.day, calendar.monthrange(year, month)[1]))

    def _point(self, k: int) -> datetime:
        return timeutil.localize(self._day(k), self.due_time, self.tz)

    def _index_after(self, t: datetime) -> int:
        """Smallest k >= 0 with point(k) > t."""
        local_day = t.astimezone(self.zone).date()
        first = self.first_due_on
        if self.kind in STEP_DAYS:
            k = (local_day - first).days // STEP_DAYS[self.kind]
        else:
            k = ((local_day.year - first.year) * 12 + local_day.month - first.month) // STEP_MONTHS[self.kind]
        k = max(0, k - 1)  # the estimate is never more than one step high; start below it
        while self._point(k) <= t:
            k += 1
        while k > 0 and self._point(k - 1) > t:
            k -= 1
        return k

    # --- cron ------------------------------------------------------------------------------
    def _instant(self, local_naive: datetime) -> datetime:
        return timeutil.localize(local_naive.date(), local_naive.time(), self.tz)

    def _cron_after(self, t: datetime) -> datetime:
        t = max(t, self.starts_at - timedelta(microseconds=1))
        naive = t.astimezone(self.zone).replace(tzinfo=None) - _FOLD_MARGIN
        for n, local in enumerate(CronSim(self.cron, naive)):
            instant = self._instant(local)
            if instant > t:
                return instant
            if n > _CRON_SEARCH_LIMIT:
                break
        raise ValueError(f"cron {self.cron!r} has no due point after {t.isoformat()}")

    def _cron_at_or_before(self, t: datetime) -> datetime | None:
        if t < self.starts_at:
            return None
        naive = t.astimezone(self.zone).replace(tzinfo=None) + _FOLD_MARGIN
        for n, local in enumerate(CronSim(self.cron, naive, reverse=True)):
            instant = self._instant(local)
            if instant < self.starts_at:
                return None
            if instant <= t:
                return instant
            if n > _CRON_SEARCH_LIMIT:
                break
        return None

    def _validate_cron(self) -> None:
        if not self.cron.strip():
            raise ValueError("give a cron expression, e.g. '0 9 * * 1' (Mondays 09:00)")
        if len(self.cron.split()) != 5:
            raise ValueError("a cron expression has five fields: minute hour day month weekday")
        try:
            it = CronSim(self.cron, datetime.combine(self.first_due_on, time(0, 0)))
            points = [next(it) for _ in range(6)]
        except (CronSimError, StopIteration, ValueError) as exc:
            raise ValueError(f"invalid cron expression: {exc or 'no due points'}") from exc
        if any(b - a < MIN_CRON_GAP for a, b in itertools.pairwise(points)):
            raise ValueError("a duty cannot be due more often than once an hour")


@dataclass(frozen=True)
class Coverage:
    """What one check-in does to a duty."""

    covers: datetime  # the due point it counts for
    late: bool  # done after that due point
    missed: int  # earlier due points skipped for good
    next_due: datetime


def apply_check_in(cadence: Cadence, *, pending: datetime, at: datetime) -> Coverage:
    """The effect of a check-in at ``at`` on a duty whose earliest undone due point is ``pending``.

    Raises :class:`AlreadyDone` when ``at`` falls in a cycle already done (a second click).
    """
    timeutil.require_aware(at)
    if at <= pending:
        prev = cadence.previous(pending)
        if prev is not None and at <= prev:
            raise AlreadyDone(pending)
        return Coverage(covers=pending, late=False, missed=0, next_due=cadence.next_after(pending))
    latest = cadence.latest_at_or_before(at) or pending
    latest = max(latest, pending)
    return Coverage(
        covers=latest,
        late=True,
        missed=cadence.count(pending, latest),
        next_due=cadence.next_after(latest),
    )


DONE, LATE, MISSED, OVERDUE, UPCOMING = "done", "late", "missed", "overdue", "upcoming"


@dataclass(frozen=True)
class Cycle:
    due_at: datetime
    status: str  # done | late | missed | overdue | upcoming
    check_in: object = None


def history(
    cadence: Cadence,
    *,
    covered: Mapping[datetime, tuple[bool, object]],
    pending: datetime,
    since: datetime,
    now: datetime,
    limit: int = 12,
) -> list[Cycle]:
    """The latest cycles, newest first: the upcoming one, then each past due point done,
    late, missed (skipped for good) or overdue (still open). ``covered`` maps a due point
    to (late, check-in); due points before ``since`` (when tracking began) are not shown."""
    cycles: list[Cycle] = [Cycle(pending if pending > now else cadence.next_after(now), UPCOMING)]
    p = cadence.latest_at_or_before(now)
    while p is not None and p >= since and len(cycles) < limit:
        if p in covered:
            late, check_in = covered[p]
            cycles.append(Cycle(p, LATE if late else DONE, check_in))
        elif p >= pending:
            cycles.append(Cycle(p, OVERDUE))
        else:
            cycles.append(Cycle(p, MISSED))
        p = cadence.previous(p)
    return cycles


def streak(cycles: list[Cycle]) -> int:
    """Consecutive on-time cycles, counting back from the most recent past due point."""
    n = 0
    for cycle in cycles:
        if cycle.status == UPCOMING:
            continue
        if cycle.status != DONE:
            break
        n += 1
    return n
