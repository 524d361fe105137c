"""The correctness oracle: budget and burn-rate arithmetic checked against an independent
computation over generated minute-level series (hypothesis), plus the named edge cases of
issue 23: an outage of exactly the budget, a slow burn only the ticket pair catches, a short
spike the 5-minute window must not page for once it ends, gaps without data, and a maintenance
window (``test_rollups.py`` has the maintenance window with real probe results)."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.models import Page
from slos import engine, selectors, services
from slos.models import BurnAlert, SLIHour, SLIMinute
from tests.slos.conftest import T0, make_slo, steady, write

MINUTE = timedelta(minutes=1)
objectives = st.sampled_from(["90", "99", "99.5", "99.9", "99.95", "100"])


def oracle_budget(series, start, end, objective):
    """The independent computation: loop over minutes, exact fractions, no shared code."""
    good = sum(g for m, (g, t) in series.items() if start <= m < end)
    total = sum(t for m, (g, t) in series.items() if start <= m < end)
    if total == 0:
        return None, None, None
    allowed = (Fraction(100) - Fraction(objective)) / 100
    bad = total - good
    if allowed == 0:
        return Fraction(good, total), (math.inf if bad else 0), (0.0 if bad else 1.0)
    consumed = Fraction(bad) / (allowed * total)
    return Fraction(good, total), consumed, 1 - consumed


def oracle_burn(series, start, end, objective):
    good = sum(g for m, (g, t) in series.items() if start <= m < end)
    total = sum(t for m, (g, t) in series.items() if start <= m < end)
    if total == 0:
        return None
    allowed = (Fraction(100) - Fraction(objective)) / 100
    if allowed == 0:
        return math.inf if total - good else 0.0
    return Fraction(total - good, total) / allowed


minute_counts = st.one_of(
    st.just(None),  # a gap: no data this minute
    st.tuples(st.integers(0, 50), st.integers(0, 50)).map(lambda p: (min(p), max(p))),
)


@given(objective=objectives, counts=st.lists(minute_counts, min_size=1, max_size=300))
def test_budget_and_burn_rate_match_the_oracle(objective, counts):
    series = {T0 + i * MINUTE: c for i, c in enumerate(counts) if c is not None and c[1] > 0}
    end = T0 + len(counts) * MINUTE
    good = sum(g for g, _ in series.values())
    total = sum(t for _, t in series.values())
    budget = engine.Budget(good, total, Decimal(objective))
    sli, consumed, remaining = oracle_budget(series, T0, end, objective)
    if sli is None:
        assert (budget.sli, budget.consumed, budget.remaining, budget.exhausted) == (None, None, None, False)
    else:
        assert budget.sli == pytest.approx(float(sli))
        assert budget.consumed == (consumed if math.isinf(consumed) else pytest.approx(float(consumed)))
        assert budget.remaining == pytest.approx(float(remaining))
        assert budget.exhausted == (consumed >= 1 and total - good > 0)
    rate = engine.burn_rate(good, total, Decimal(objective))
    expected = oracle_burn(series, T0, end, objective)
    assert rate == (expected if expected is None or math.isinf(expected) else pytest.approx(float(expected)))
    for factor in (1, 6, 14.4):
        if expected is None:
            assert not engine.burns_faster(good, total, objective, factor)
        else:
            assert engine.burns_faster(good, total, objective, factor) == (expected > Fraction(str(factor)))


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    counts=st.lists(minute_counts, min_size=1, max_size=400),
    offset=st.integers(0, 59),
    now_after=st.one_of(st.integers(0, 500), st.sampled_from([60, 120, 240, 360])),
    windows=st.lists(st.one_of(st.integers(1, 600), st.sampled_from([60, 120, 360])), min_size=1, max_size=4),
)
def test_window_sums_from_rollups_match_the_oracle(slo, counts, offset, now_after, windows):
    """Minutes and hours (the two-table split of every window) add up to the loop over minutes."""
    SLIMinute.objects.filter(slo=slo).delete()
    SLIHour.objects.filter(slo=slo).delete()
    start = T0 + offset * MINUTE
    series = {start + i * MINUTE: c for i, c in enumerate(counts) if c is not None and c[1] > 0}
    write(slo, series)
    now = start + now_after * MINUTE + timedelta(seconds=17)
    sums = selectors.window_sums([slo.pk], windows, now)[slo.pk]
    end = engine.floor_minute(now)
    for w in windows:
        good = sum(g for m, (g, t) in series.items() if end - w * MINUTE <= m < end)
        total = sum(t for m, (g, t) in series.items() if end - w * MINUTE <= m < end)
        assert sums[w] == (good, total), w


@pytest.mark.django_db
def test_an_outage_of_exactly_the_budget_exhausts_it():
    slo = make_slo(objective="99", window="7d")
    start = T0 - timedelta(days=7)
    series = steady(start, 7 * 1440, total=100)
    # exactly 1 % of the window's 1,008,000 events: 10,080 bad = 100.8 minutes of full outage
    outage = start + timedelta(days=3)
    for i in range(100):
        series[outage + i * MINUTE] = (0, 100)
    series[outage + 100 * MINUTE] = (20, 100)
    write(slo, series)
    st_ = selectors.statuses([slo], now=T0)[0]
    assert st_.budget.total == 1_008_000
    assert st_.budget.bad == 10_080
    assert st_.budget.consumed == 1.0
    assert st_.budget.remaining == 0.0
    assert st_.budget.exhausted
    # one good event more in the window and it is no longer exhausted; one bad more, overspent
    assert not engine.Budget(st_.budget.good + 1, st_.budget.total + 1, slo.objective).exhausted
    assert engine.Budget(st_.budget.good, st_.budget.total + 1, slo.objective).remaining < 0


@pytest.mark.django_db
def test_no_traffic_is_no_data_and_objective_100_is_exhausted_by_one_bad_event():
    quiet = make_slo(objective="99.9", name="Quiet")
    st_ = selectors.statuses([quiet], now=T0)[0]
    assert st_.budget.sli is None
    assert st_.budget.remaining is None
    assert st_.burn_1h is None
    assert "no data yet" in st_.label
    perfect = make_slo(objective="100", name="Perfect")
    write(perfect, steady(T0 - timedelta(hours=2), 60, total=1000))
    assert selectors.statuses([perfect], now=T0)[0].budget.remaining == 1.0
    write(perfect, {T0 - timedelta(minutes=3): (999, 1000)})
    st_ = selectors.statuses([perfect], now=T0)[0]
    assert st_.budget.exhausted
    assert st_.budget.remaining == 0.0
    assert st_.budget.consumed == math.inf
    assert st_.burn_1h == math.inf


@pytest.mark.django_db
def test_window_not_yet_full_counts_the_events_seen_so_far():
    slo = make_slo(objective="99", window="28d")
    write(slo, steady(T0 - timedelta(days=2), 2 * 1440, total=10, bad=0))
    write(slo, {T0 - timedelta(hours=1): (5, 10)})
    st_ = selectors.statuses([slo], now=T0)[0]
    assert st_.budget.total == 28_800
    assert st_.budget.remaining == pytest.approx(1 - 5 / (0.01 * 28_800))


def _sweep(at):
    with time_machine.travel(at, tick=False):
        return services.sweep(now=at, sync=False)


@pytest.mark.django_db
def test_slow_burn_only_the_ticket_pair_catches(django_capture_on_commit_callbacks):
    slo = make_slo(objective="99")
    # 2x for 3 days: below 14.4x and 6x, above 1x over 3 days and 6 h
    write(slo, steady(T0 - timedelta(days=3), 3 * 1440, total=100, bad=2))
    counts = _sweep(T0)
    alerts = list(BurnAlert.objects.filter(slo=slo))
    assert counts["opened"] == 1
    assert [a.severity for a in alerts] == ["ticket"]
    assert alerts[0].burn_started_at == T0 - timedelta(days=3)
    assert not Page.objects.exists()


@pytest.mark.django_db
def test_a_short_spike_does_not_page_once_the_5_minute_window_is_clear():
    slo = make_slo(objective="99")
    series = steady(T0 - timedelta(days=3), 3 * 1440, total=100)
    for i in range(12):  # 12 minutes of full outage ending 6 minutes before T0: 1 h burn 20x
        series[T0 - timedelta(minutes=18) + i * MINUTE] = (0, 100)
    write(slo, series)
    sums = selectors.window_sums([slo.pk], [60, 5, 360, 30], T0)[slo.pk]
    assert engine.burn_rate(*sums[60], slo.objective) == pytest.approx(20)
    assert engine.burn_rate(*sums[5], slo.objective) == 0
    assert engine.burn_rate(*sums[360], slo.objective) < 6  # the 6 h pair does not catch it either
    assert _sweep(T0)["opened"] == 0
    assert not BurnAlert.objects.exists()
    # during the spike it did page; the alert resolves itself once the 5-minute window clears
    assert _sweep(T0 - timedelta(minutes=8))["opened"] == 1
    alert = BurnAlert.objects.get()
    assert alert.severity == "page"
    assert alert.burn_started_at == T0 - timedelta(minutes=18)
    assert _sweep(T0)["resolved"] == 1
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.resolved_at == T0


@pytest.mark.django_db
def test_gaps_without_data_neither_burn_nor_break_the_burn_start():
    slo = make_slo(objective="99")
    series = steady(T0 - timedelta(hours=3), 60, total=100)  # healthy, then 2 h of silence
    assert _sweep(T0 - timedelta(minutes=30)) == {"opened": 0, "reopened": 0, "resolved": 0}
    for i in range(0, 20, 2):  # an outage every other minute (gaps between): started 20 min ago
        series[T0 - timedelta(minutes=20) + i * MINUTE] = (0, 100)
    write(slo, series)
    _sweep(T0)
    alert = BurnAlert.objects.get(severity="page")
    assert alert.burn_started_at == T0 - timedelta(minutes=20)


@pytest.mark.django_db
def test_the_same_burn_never_pages_twice():
    slo = make_slo(objective="99")
    series = steady(T0 - timedelta(days=3), 3 * 1440, total=100)
    for i in range(10):
        series[T0 - timedelta(minutes=30) + i * MINUTE] = (0, 100)
    write(slo, series)
    assert _sweep(T0 - timedelta(minutes=20))["opened"] == 1
    assert _sweep(T0 - timedelta(minutes=19)) == {"opened": 0, "reopened": 0, "resolved": 0}  # still burning
    assert _sweep(T0 - timedelta(minutes=14))["resolved"] == 1  # 5-minute window clear
    write(slo, {T0 - timedelta(minutes=12) + i * MINUTE: (0, 100) for i in range(3)})  # it flares again
    counts = _sweep(T0 - timedelta(minutes=9))
    alert = BurnAlert.objects.get(severity="page")
    assert counts["reopened"] == 1
    assert alert.status == "open"
    assert alert.refired_count == 1
    assert alert.burn_started_at == T0 - timedelta(minutes=30)
