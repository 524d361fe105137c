"""On-call: final shifts from the rotation engine, and who is on call for 500 schedules.

1. One schedule, 3 layers x 10 people (weekly in New York, daily in Berlin, 12-hourly in
   Sydney) + 50 overrides over one year: the engine (oncall.rotation.final_shifts) against the
   usual approach of iCal-based schedulers - the same rotations stored as RRULE events
   (one VEVENT per participant, icalendar), parsed and expanded with dateutil.rrule, then
   resolved by the same precedence sweep. Target: engine <= 20 ms and >= 10x faster.
2. selectors.on_call for 500 schedules (2 layers each + overrides) from the database: time and
   query count (target <= 200 ms, bounded queries).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from _harness import django_with_fresh_db, report, timed

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)
LAYERS = [
    # zone, unit, length, handoff
    ("America/New_York", "weeks", 1, time(9)),
    ("Europe/Berlin", "days", 1, time(8)),
    ("Australia/Sydney", "hours", 12, time(7)),
]


def engine_schedule():
    from oncall import rotation

    rng = random.Random(7)
    layers = tuple(
        rotation.Layer(i, tuple(f"p{i}-{n}" for n in range(10)), unit, length, date(2025, 12, 1), handoff)
        for i, (_zone, unit, length, handoff) in enumerate(LAYERS)
    )
    overrides = []
    for i in range(50):
        start = YEAR_START + timedelta(hours=rng.randrange(0, 365 * 24))
        overrides.append(
            rotation.Override(f"o{i}", f"sub{i % 7}", start, start + timedelta(hours=rng.randrange(2, 72)))
        )
    # The engine works in one schedule zone; the layers' zones are only for the iCal side's
    # realism, so use New York for both to compare the same shifts.
    return rotation.Schedule("America/New_York", layers, tuple(overrides))


def ical_text(schedule) -> bytes:
    """The schedule stored the iCal way: an RRULE VEVENT per participant per layer."""
    from zoneinfo import ZoneInfo

    from icalendar import Calendar, Event

    tz = ZoneInfo(schedule.time_zone)
    cal = Calendar()
    cal.add("prodid", "-//bench//EN")
    cal.add("version", "2.0")
    freq = {"weeks": "WEEKLY", "days": "DAILY", "hours": "HOURLY"}
    for prio, layer in enumerate(schedule.layers):
        n = len(layer.participants)
        step = {"weeks": timedelta(weeks=1), "days": timedelta(days=1), "hours": timedelta(hours=1)}[
            layer.rotation_unit
        ]
        for k, person in enumerate(layer.participants):
            ev = Event()
            first = datetime.combine(layer.start, layer.handoff, tzinfo=tz) + step * layer.rotation_length * k
            ev.add("uid", f"{prio}-{k}")
            ev.add("dtstart", first)
            ev.add("duration", step * layer.rotation_length)
            ev.add("summary", person)
            ev.add("priority", prio + 1)
            ev.add("rrule", {"freq": freq[layer.rotation_unit], "interval": layer.rotation_length * n})
            cal.add_component(ev)
    for o in schedule.overrides:
        ev = Event()
        ev.add("uid", str(o.id))
        ev.add("dtstart", o.start)
        ev.add("dtend", o.end)
        ev.add("summary", o.user)
        ev.add("priority", 9)
        cal.add_component(ev)
    return cal.to_ical()


def ical_final_shifts(text: bytes, start: datetime, end: datetime):
    """Parse, expand every RRULE over the window (dateutil), resolve precedence with a sweep."""
    from dateutil.rrule import rrulestr
    from icalendar import Calendar

    cal = Calendar.from_ical(text)
    occurrences = []  # (start, end, who, priority)
    seq = 0
    for ev in cal.walk("VEVENT"):
        dtstart = ev.decoded("dtstart")
        who = str(ev["summary"])
        prio = int(ev["priority"]) * 1000
        if "rrule" in ev:
            duration = ev.decoded("duration")
            rule = rrulestr(ev["rrule"].to_ical().decode(), dtstart=dtstart)
            # wall-clock recurrence in the zone, then UTC
            for occ in rule.between(start - duration, end, inc=True):
                occurrences.append((occ.astimezone(UTC), (occ + duration).astimezone(UTC), who, prio))
        else:
            seq += 1
            occurrences.append(
                (dtstart.astimezone(UTC), ev.decoded("dtend").astimezone(UTC), who, prio + seq)
            )
    events = []
    for i, (s, e, _who, prio) in enumerate(occurrences):
        if e > start and s < end:
            events.append((max(s, start), 1, prio, i))
            events.append((min(e, end), 0, prio, i))
    events.sort()
    out, active, current, seg = [], {}, None, start
    j = 0
    while j < len(events):
        t = events[j][0]
        while j < len(events) and events[j][0] == t:
            _, kind, prio, i = events[j]
            if kind:
                active[prio] = i
            elif active.get(prio) == i:
                del active[prio]
            j += 1
        top = active[max(active)] if active else None
        if top != current:
            if current is not None and t > seg:
                out.append((seg, t, occurrences[current][2]))
            current, seg = top, t
    return out


def bench_engine():
    from oncall import rotation

    schedule = engine_schedule()
    text = ical_text(schedule)
    shifts = rotation.final_shifts(schedule, YEAR_START, YEAR_END)
    baseline = ical_final_shifts(text, YEAR_START, YEAR_END)
    same = [(s.start, s.end, s.user) for s in shifts] == baseline
    engine = timed(lambda: rotation.final_shifts(schedule, YEAR_START, YEAR_END), repeat=30)
    ical = timed(lambda: ical_final_shifts(text, YEAR_START, YEAR_END), repeat=10)
    # Coverage sanity: both cover the whole year.
    covered = sum((s.end - s.start).total_seconds() for s in shifts) / 3600
    covered_ical = sum((e - s).total_seconds() for s, e, _ in baseline) / 3600
    report(
        "final shifts: 3 layers x 10 people + 50 overrides, 1 year",
        [
            ("engine median / p95 ms", f"{engine['median_ms']} / {engine['p95_ms']}  (target <= 20 ms)"),
            ("iCal RRULE expander median ms", ical["median_ms"]),
            ("speed-up (iCal / engine)", f"{ical['median_ms'] / engine['median_ms']:.1f}x  (target >= 10x)"),
            ("final shifts (engine / iCal)", f"{len(shifts)} / {len(baseline)}, identical: {same}"),
            ("hours covered (engine / iCal)", f"{covered:.0f} / {covered_ical:.0f}"),
        ],
    )


def bench_who_is_on_call():
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Team
    from oncall import selectors
    from oncall.models import LayerMember, Override, RotationLayer, Schedule

    User = get_user_model()
    team = Team.objects.create(name="Bench", slug="bench")
    users = User.objects.bulk_create([User(username=f"u{i}", email=f"u{i}@example.com") for i in range(60)])
    zones = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "UTC"]
    schedules = Schedule.objects.bulk_create(
        [Schedule(team=team, name=f"s{i}", time_zone=zones[i % len(zones)]) for i in range(500)]
    )
    layers = RotationLayer.objects.bulk_create(
        [
            RotationLayer(
                schedule=s,
                position=p,
                name=f"l{p}",
                rotation_length=1,
                rotation_unit="weeks" if p == 1 else "days",
                start_date=date(2026, 1, 5),
            )
            for s in schedules
            for p in (1, 2)
        ]
    )
    rng = random.Random(3)
    LayerMember.objects.bulk_create(
        [
            LayerMember(layer=layer, user=users[rng.randrange(60)], position=k)
            for layer in layers
            for k in range(5)
        ]
    )
    from django.utils import timezone

    now = timezone.now()
    Override.objects.bulk_create(
        [
            Override(
                schedule=s,
                user=users[rng.randrange(60)],
                start=now - timedelta(hours=2),
                end=now + timedelta(hours=3),
            )
            for s in schedules[::5]
        ]
    )
    ids = Schedule.objects.all()  # a queryset: the selector filters by subquery
    with CaptureQueriesContext(connection) as ctx:
        answers = selectors.on_call(ids)
    one = timed(lambda: selectors.on_call(ids), repeat=10)
    with_next = timed(lambda: selectors.on_call(ids, with_next=True), repeat=5)
    report(
        "who is on call now: 500 schedules (2 layers x 5 people, 100 overrides)",
        [
            ("median / p95 ms", f"{one['median_ms']} / {one['p95_ms']}  (target <= 200 ms)"),
            ("with next on-call, median ms", with_next["median_ms"]),
            ("queries", f"{len(ctx.captured_queries)} (constant: not one per schedule)"),
            ("schedules answered", sum(1 for a in answers.values() if a.user is not None)),
        ],
    )


def main() -> None:
    with django_with_fresh_db():
        bench_engine()
        bench_who_is_on_call()


if __name__ == "__main__":
    main()
