"""The rotation engine against an independent expansion: dateutil.rrule over naive wall-clock
times in the schedule's zone, resolved to instants with dateutil.tz (not opsportal.timeutil),
for hundreds of random rotations across DST changes and non-hour offsets."""

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil import rrule
from dateutil import tz as dtz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall import rotation
from oncall.rotation import Layer, Override, Restriction, Schedule

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"]
FREQ = {rotation.HOURS: rrule.HOURLY, rotation.DAYS: rrule.DAILY, rotation.WEEKS: rrule.WEEKLY}


# --- the independent oracle ---------------------------------------------------------------


def oracle_instant(naive: datetime, zone_name: str) -> datetime:
    """Naive wall time -> UTC instant by our documented rules, using dateutil.tz only:
    a skipped wall time moves to the first wall time that exists (minute by minute), an
    ambiguous one takes its first occurrence (fold=0)."""
    z = dtz.gettz(zone_name)
    candidate = naive.replace(tzinfo=z)
    while not dtz.datetime_exists(candidate):
        naive += timedelta(minutes=1)
        naive = naive.replace(minute=naive.minute)
        candidate = naive.replace(second=0, tzinfo=z) if naive.second else naive.replace(tzinfo=z)
    return dtz.enfold(candidate, fold=0).astimezone(UTC)


def oracle_layer_turns(layer: Layer, zone_name: str, until: datetime):
    """[(start, end, user, k)] from an rrule expansion, unrestricted, zero-length turns dropped."""
    dtstart = datetime.combine(layer.start, layer.handoff)
    rule = rrule.rrule(FREQ[layer.rotation_unit], interval=layer.rotation_length, dtstart=dtstart)
    turns, prev, k = [], None, -1
    for naive in rule:
        instant = oracle_instant(naive, zone_name)
        if prev is not None:
            p_start, p_k = prev
            end = instant if layer.end is None else min(instant, layer.end)
            if end > p_start:
                turns.append((p_start, end, layer.participants[p_k % len(layer.participants)], p_k))
        k += 1
        prev = (instant, k)
        if instant >= until or (layer.end is not None and instant >= layer.end):
            break
    return turns


def oracle_in_restrictions(layer: Layer, zone_name: str, t: datetime) -> bool:
    if not layer.restrictions:
        return True
    local_day = t.astimezone(dtz.gettz(zone_name)).date()
    for offset in (-1, 0):
        day = local_day + timedelta(days=offset)
        for r in layer.restrictions:
            if day.weekday() not in r.weekdays:
                continue
            s = oracle_instant(datetime.combine(day, r.start), zone_name)
            end_day = day + timedelta(days=1) if r.end <= r.start else day
            e = oracle_instant(datetime.combine(end_day, r.end), zone_name)
            if s <= t < e:
                return True
    return False


def oracle_who(schedule: Schedule, t: datetime, turns_by_layer):
    for o in reversed(schedule.overrides):
        if o.start <= t < o.end:
            return o.user
    for layer, turns in reversed(list(zip(schedule.layers, turns_by_layer, strict=True))):
        for s, e, user, _k in turns:
            if s <= t < e:
                if oracle_in_restrictions(layer, schedule.time_zone, t):
                    return user
                break
    return None


# --- strategies -----------------------------------------------------------------------------

# Handoff wall times include the ones DST makes interesting (00:00-03:30) and Kolkata-ish halves.
handoffs = st.sampled_from(
    [time(0), time(1, 30), time(2), time(2, 30), time(3), time(9), time(17, 45), time(23, 30)]
)
# Start dates near the transitions of 2026 in every zone (Mar/Apr and Oct/Nov).
starts = st.dates(min_value=date(2026, 2, 20), max_value=date(2026, 11, 10))


@st.composite
def layers(draw, layer_id=0, restricted=None):
    unit = draw(st.sampled_from(rotation.UNITS))
    length = draw(
        st.integers(1, 36)
        if unit == rotation.HOURS
        else st.integers(1, 10)
        if unit == rotation.DAYS
        else st.integers(1, 3)
    )
    people = draw(st.lists(st.sampled_from("ABCDEFG"), min_size=1, max_size=5))
    restrictions = ()
    if restricted if restricted is not None else draw(st.booleans()):
        days = draw(st.frozensets(st.integers(0, 6), min_size=1))
        r_start = draw(handoffs)
        r_end = draw(st.sampled_from([time(2, 30), time(6), time(17), time(9), time(1, 30)]))
        restrictions = (Restriction(days, r_start, r_end),)
    end = None
    return Layer(
        id=layer_id,
        participants=tuple(people),
        rotation_unit=unit,
        rotation_length=length,
        start=draw(starts),
        handoff=draw(handoffs),
        end=end,
        restrictions=restrictions,
    )


def window_for(layer_start: date, draw_offset_hours: int, days: int):
    start = datetime.combine(layer_start, time(0), tzinfo=UTC) + timedelta(hours=draw_offset_hours)
    return start, start + timedelta(days=days)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layer=layers(restricted=False),
    zone_name=st.sampled_from(ZONES),
    offset=st.integers(-48, 24 * 60),
    days=st.integers(1, 45),
)
def test_single_layer_matches_rrule_expansion(layer, zone_name, offset, days):
    start, end = window_for(layer.start, offset, days)
    schedule = Schedule(time_zone=zone_name, layers=(layer,))
    got = rotation.final_shifts(schedule, start, end)
    expected = [
        (max(s, start), min(e, end), user, k)
        for s, e, user, k in oracle_layer_turns(layer, zone_name, end)
        if e > start and s < end
    ]
    assert [(s.start, s.end, s.user, s.index) for s in got] == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone_name=st.sampled_from(ZONES))
def test_layers_restrictions_and_overrides_match_oracle_at_every_boundary(data, zone_name):
    n_layers = data.draw(st.integers(1, 3))
    sched_layers = tuple(data.draw(layers(layer_id=i)) for i in range(n_layers))
    base = min(layer.start for layer in sched_layers)
    start, end = window_for(base, data.draw(st.integers(0, 24 * 40)), data.draw(st.integers(1, 21)))
    overrides = []
    for i in range(data.draw(st.integers(0, 4))):
        o_start = start + timedelta(
            minutes=data.draw(st.integers(-600, int((end - start).total_seconds() // 60)))
        )
        o_end = o_start + timedelta(minutes=data.draw(st.integers(1, 60 * 72)))
        overrides.append(Override(id=i, user=data.draw(st.sampled_from("XYZ")), start=o_start, end=o_end))
    schedule = Schedule(time_zone=zone_name, layers=sched_layers, overrides=tuple(overrides))
    shifts = rotation.final_shifts(schedule, start, end)

    # Shape: ordered, non-overlapping, inside the window, no empty shifts.
    for a, b in itertools.pairwise(shifts):
        assert a.end <= b.start
    assert all(start <= s.start < s.end <= end for s in shifts)

    turns_by_layer = [oracle_layer_turns(layer, zone_name, end) for layer in sched_layers]
    probes = {start, end - timedelta(seconds=1)}
    for s in shifts:
        probes |= {s.start, s.end - timedelta(seconds=1), s.start + (s.end - s.start) / 2}
    for o in overrides:
        probes |= {o.start, o.end, o.end - timedelta(seconds=1)}
    for turns in turns_by_layer:
        for s, e, *_ in turns:
            probes |= {s, e - timedelta(seconds=1)}
    for t in sorted(p for p in probes if start <= p < end):
        covering = [s for s in shifts if s.start <= t < s.end]
        got = covering[0].user if covering else None
        assert got == oracle_who(schedule, t, turns_by_layer), t


# --- examples people ask about --------------------------------------------------------------


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_weekly_shift_across_spring_forward_is_167_hours_and_fall_back_169():
    layer = Layer(1, ("ann", "ben"), rotation.WEEKS, 1, date(2026, 3, 2), time(9))
    ny = Schedule("America/New_York", (layer,))
    shifts = rotation.final_shifts(ny, utc(2026, 3, 2, 14), utc(2026, 3, 16, 13))
    assert [s.hours for s in shifts] == [167, 168]  # DST starts Sun 8 March
    assert shifts[0].end == utc(2026, 3, 9, 13)  # still Monday 09:00 local (EDT)
    autumn = rotation.final_shifts(ny, utc(2026, 10, 26, 13), utc(2026, 11, 2, 14))
    assert [s.hours for s in autumn] == [169]


def test_handoff_at_nonexistent_and_ambiguous_wall_times():
    daily = Layer(1, ("ann", "ben"), rotation.DAYS, 1, date(2026, 3, 27), time(2, 30))
    berlin = Schedule("Europe/Berlin", (daily,))
    # 29 March 02:30 does not exist in Berlin: handoff at the transition (03:00 CEST = 01:00 UTC)
    at = rotation.on_call_at(berlin, utc(2026, 3, 29, 1, 0))
    assert at.start == utc(2026, 3, 29, 1, 0)
    # 25 October 02:30 happens twice: first occurrence (CEST, 00:30 UTC)
    autumn = Layer(1, ("ann", "ben"), rotation.DAYS, 1, date(2026, 10, 20), time(2, 30))
    shift = rotation.on_call_at(Schedule("Europe/Berlin", (autumn,)), utc(2026, 10, 25, 0, 45))
    assert shift.start == utc(2026, 10, 25, 0, 30)


def test_kolkata_half_hour_offset():
    layer = Layer(1, ("ann",), rotation.DAYS, 1, date(2026, 6, 1), time(9))
    s = rotation.final_shifts(Schedule("Asia/Kolkata", (layer,)), utc(2026, 6, 1), utc(2026, 6, 2, 12))
    assert s[0].start == utc(2026, 6, 1, 3, 30)


def test_override_precedence_over_higher_and_lower_layers_and_later_override_wins():
    low = Layer("low", ("ann",), rotation.WEEKS, 1, date(2026, 1, 5), time(9))
    high = Layer("high", ("ben",), rotation.WEEKS, 1, date(2026, 1, 5), time(9),
                 restrictions=(Restriction(frozenset(range(5)), time(9), time(17)),))  # fmt: skip
    overrides = (
        Override(1, "cat", utc(2026, 1, 6, 10), utc(2026, 1, 6, 12)),
        Override(2, "dan", utc(2026, 1, 6, 11), utc(2026, 1, 6, 11, 30)),
    )
    sched = Schedule("UTC", (low, high), overrides)
    assert rotation.on_call_at(sched, utc(2026, 1, 6, 9, 30)).user == "ben"  # business hours: high
    assert rotation.on_call_at(sched, utc(2026, 1, 6, 20)).user == "ann"  # evening: low shows through
    assert rotation.on_call_at(sched, utc(2026, 1, 10, 12)).user == "ann"  # Saturday
    assert rotation.on_call_at(sched, utc(2026, 1, 6, 10, 30)).user == "cat"
    assert rotation.on_call_at(sched, utc(2026, 1, 6, 11, 15)).user == "dan"  # later override wins
    assert rotation.on_call_at(sched, utc(2026, 1, 6, 11, 45)).user == "cat"
    ben = [s for s in rotation.final_shifts(sched, utc(2026, 1, 6), utc(2026, 1, 7)) if s.user == "ben"]
    assert [(s.start, s.end) for s in ben] == [
        (utc(2026, 1, 6, 9), utc(2026, 1, 6, 10)), (utc(2026, 1, 6, 12), utc(2026, 1, 6, 17))
    ]  # fmt: skip
    assert ben[0].key != ben[1].key  # parts of one turn keep distinct, stable keys


def test_split_week_and_follow_the_sun_are_expressible():
    # 4 days / 3 days: two weekly layers restricted to Mon-Thu and Fri-Sun.
    mon_thu = Layer(1, ("ann", "ben"), rotation.WEEKS, 1, date(2026, 1, 5), time(0),
                    restrictions=(Restriction(frozenset({0, 1, 2, 3}), time(0), time(0)),))  # fmt: skip
    fri_sun = Layer(2, ("cat", "dan"), rotation.WEEKS, 1, date(2026, 1, 5), time(0),
                    restrictions=(Restriction(frozenset({4, 5, 6}), time(0), time(0)),))  # fmt: skip
    sched = Schedule("Europe/Berlin", (mon_thu, fri_sun))
    week = rotation.final_shifts(sched, utc(2026, 1, 4, 23), utc(2026, 1, 11, 23))
    assert [(s.user, round(s.hours)) for s in week] == [("ann", 96), ("cat", 72)]
    assert rotation.gaps(week, utc(2026, 1, 4, 23), utc(2026, 1, 11, 23)) == []
    # Follow the sun: each region covers its 08:00-20:00 in one zone's terms.
    emea = Layer(1, ("eu",), rotation.DAYS, 1, date(2026, 1, 5), time(7),
                 restrictions=(Restriction(frozenset(range(7)), time(7), time(19)),))  # fmt: skip
    amer = Layer(2, ("us",), rotation.DAYS, 1, date(2026, 1, 5), time(19),
                 restrictions=(Restriction(frozenset(range(7)), time(19), time(7)),))  # fmt: skip
    fts = Schedule("UTC", (emea, amer))
    day = rotation.final_shifts(fts, utc(2026, 1, 6), utc(2026, 1, 7))
    assert [(s.user, s.start.hour, s.end.hour) for s in day] == [("us", 0, 7), ("eu", 7, 19), ("us", 19, 0)]


def test_business_days_only_layer_leaves_weekend_gaps():
    layer = Layer(1, ("ann", "ben"), rotation.DAYS, 1, date(2026, 1, 5), time(9),
                  restrictions=(Restriction(frozenset(range(5)), time(9), time(17)),))  # fmt: skip
    start, end = utc(2026, 1, 5), utc(2026, 1, 12)
    shifts = rotation.final_shifts(Schedule("UTC", (layer,)), start, end)
    assert [s.user for s in shifts] == ["ann", "ben", "ann", "ben", "ann"]
    holes = rotation.gaps(shifts, start, end)
    assert holes[0] == (start, utc(2026, 1, 5, 9))
    assert holes[-1] == (utc(2026, 1, 9, 17), end)
    assert len(holes) == 6


def test_layer_end_and_start_create_gaps_and_nobody_before_start():
    layer = Layer(1, ("ann",), rotation.DAYS, 2, date(2026, 2, 1), time(9), end=utc(2026, 2, 4, 12))
    sched = Schedule("UTC", (layer,))
    assert rotation.on_call_at(sched, utc(2026, 2, 1, 8)) is None
    assert rotation.on_call_at(sched, utc(2026, 2, 4, 11)).user == "ann"
    assert rotation.on_call_at(sched, utc(2026, 2, 4, 12)) is None
    assert rotation.gaps([], utc(2026, 2, 1), utc(2026, 2, 2)) == [(utc(2026, 2, 1), utc(2026, 2, 2))]


def test_next_on_call_and_fairness():
    layer = Layer(1, ("ann", "ben"), rotation.WEEKS, 1, date(2026, 1, 5), time(9))
    sched = Schedule("UTC", (layer,))
    nxt = rotation.next_on_call(sched, utc(2026, 1, 6))
    assert (nxt.user, nxt.start) == ("ben", utc(2026, 1, 12, 9))
    loads = rotation.fairness(rotation.final_shifts(sched, utc(2026, 1, 5, 9), utc(2026, 1, 19, 9)), "UTC")
    assert loads["ann"].hours == 168
    assert loads["ann"].night_hours == 63  # 9 h a night, 7 nights
    assert loads["ann"].weekend_hours == 30  # Sat + Sun 07:00-22:00


def test_invalid_definitions_are_refused():
    with pytest.raises(ValueError, match="unit"):
        Layer(1, ("a",), "months", 1, date(2026, 1, 1), time(9))
    with pytest.raises(ValueError, match="length"):
        Layer(1, ("a",), rotation.DAYS, 0, date(2026, 1, 1), time(9))
    with pytest.raises(ValueError, match="weekdays"):
        Restriction(frozenset({7}), time(9), time(17))
