"""The four-week calendar on the schedule's admin page: final shifts laid out per local day,
as percentages of each day's real length (23 or 25 hours on DST days), gaps included."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from oncall import rotation
from opsportal.timeutil import localize, zone

PALETTE = [
    "#2563eb",
    "#059669",
    "#7c3aed",
    "#db2777",
    "#d97706",
    "#0891b2",
    "#4d7c0f",
    "#9333ea",
    "#be123c",
    "#0f766e",
]


@dataclass
class Bar:
    left: float
    width: float
    label: str
    title: str
    color: str
    is_override: bool = False
    is_gap: bool = False


@dataclass
class Day:
    day: date
    bars: list[Bar] = field(default_factory=list)
    is_today: bool = False
    hours: float = 24.0


def days(first_day: date, count: int, tz: str) -> tuple[datetime, datetime]:
    z = zone(tz)
    return localize(first_day, time(0), z), localize(first_day + timedelta(days=count), time(0), z)


def build(
    shifts: list[rotation.Shift], people: dict, tz: str, first_day: date, count: int, today: date
) -> list[Day]:
    z = zone(tz)
    order = sorted({s.user for s in shifts}, key=lambda pk: str(people.get(pk, pk)))
    colors = {pk: PALETTE[i % len(PALETTE)] for i, pk in enumerate(order)}
    out = []
    for i in range(count):
        d = first_day + timedelta(days=i)
        d_start, d_end = localize(d, time(0), z), localize(d + timedelta(days=1), time(0), z)
        span = (d_end - d_start).total_seconds()
        row = Day(d, is_today=(d == today), hours=round(span / 3600, 1))
        todays = [s for s in shifts if s.end > d_start and s.start < d_end]
        for s_start, s_end in rotation.gaps(todays, d_start, d_end):
            row.bars.append(
                _bar(s_start, s_end, d_start, span, "gap", "Nobody on call", "#dc2626", z, gap=True)
            )
        for s in todays:
            person = people.get(s.user, "?")
            a, b = max(s.start, d_start), min(s.end, d_end)
            kind = "override" if s.is_override else "on call"
            row.bars.append(
                _bar(
                    a,
                    b,
                    d_start,
                    span,
                    str(person),
                    f"{person} ({kind})",
                    colors[s.user],
                    z,
                    override=s.is_override,
                )
            )
        row.bars.sort(key=lambda bar: bar.left)
        out.append(row)
    return out


def _bar(a, b, d_start, span, label, title, color, z, *, override=False, gap=False) -> Bar:
    left = (a - d_start).total_seconds() / span * 100
    width = (b - a).total_seconds() / span * 100
    when = f"{a.astimezone(z):%H:%M}-{b.astimezone(z):%H:%M}"
    return Bar(round(left, 3), round(width, 3), label, f"{title}, {when}", color, override, gap)
