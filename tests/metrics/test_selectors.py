"""Every metric on the hand-built set in conftest.world, with answers worked out by hand
(percentile_cont: position (n - 1) * p, linear between the neighbours)."""

from datetime import timedelta

import pytest
import time_machine

from metrics import selectors
from metrics.selectors import Filters
from tests.metrics.conftest import at

MARCH = dict(start=at(3, 1, 0), end=at(4, 1, 0))


def stats(filters: Filters) -> dict:
    return selectors.report(filters)


def test_each_metric_mean_median_p90_and_exclusions(world):
    result = stats(Filters(**MARCH))
    m = result["metrics"]
    assert result["incidents"] == 5  # the drill and the February incident never count
    # TTD 60, 120, 180, 240, 6000 s: one slow detection drags the mean, not the median
    assert m["time_to_detect"] == {
        "count": 5, "excluded": 0, "mean_seconds": 1320.0, "median_seconds": 180.0, "p90_seconds": 3696.0,
    }  # fmt: skip
    # TTA 120, 240, 360, 600 s; D was never acknowledged
    assert m["time_to_acknowledge"] == {
        "count": 4, "excluded": 1, "mean_seconds": 330.0, "median_seconds": 300.0, "p90_seconds": 528.0,
    }  # fmt: skip
    # TTM 600, 1200, 1800, 3600 s; D not mitigated
    assert m["time_to_mitigate"] == {
        "count": 4, "excluded": 1, "mean_seconds": 1800.0, "median_seconds": 1500.0, "p90_seconds": 3060.0,
    }  # fmt: skip
    # TTR 1200, 2400, 3600 s; D and E still open
    assert m["time_to_resolve"] == {
        "count": 3, "excluded": 2, "mean_seconds": 2400.0, "median_seconds": 2400.0, "p90_seconds": 3360.0,
    }  # fmt: skip
    # Impact (A text, C customers affected, E reported through support; D impacted but not
    # mitigated: excluded; B had no customer impact: not in scope at all): 600, 1800, 3600 s
    assert m["customer_impact_duration"] == {
        "count": 3, "excluded": 1, "mean_seconds": 2000.0, "median_seconds": 1800.0, "p90_seconds": 3240.0,
    }  # fmt: skip


def test_time_to_detect_by_source_side_by_side(world):
    by_source = stats(Filters(**MARCH))["time_to_detect_by_source"]
    assert by_source["monitoring"] == {
        "count": 2, "excluded": 0, "mean_seconds": 90.0, "median_seconds": 90.0, "p90_seconds": 114.0,
    }  # fmt: skip
    assert by_source["support"] == {
        "count": 2, "excluded": 0, "mean_seconds": 210.0, "median_seconds": 210.0, "p90_seconds": 234.0,
    }  # fmt: skip
    assert by_source["manual"]["median_seconds"] == 6000.0
    assert by_source["slo"] == {
        "count": 0, "excluded": 0, "mean_seconds": None, "median_seconds": None, "p90_seconds": None,
    }  # fmt: skip


def test_empty_period_has_no_numbers(world):
    result = stats(Filters(start=at(1, 1, 0), end=at(1, 31, 0)))
    assert result["incidents"] == 0
    assert result["metrics"]["time_to_resolve"] == {
        "count": 0, "excluded": 0, "mean_seconds": None, "median_seconds": None, "p90_seconds": None,
    }  # fmt: skip
    assert result["frequency"]["total"] == 0


def test_single_incident_percentiles_are_its_value(world):
    result = stats(Filters(**MARCH, severity=1))
    assert result["metrics"]["time_to_resolve"]["median_seconds"] == 1200.0
    assert result["metrics"]["time_to_resolve"]["p90_seconds"] == 1200.0


@pytest.mark.parametrize(
    ("extra", "ttd_median", "incidents"),
    [
        ({"team_id": "x"}, 120.0, 3),  # A, B, E: 60, 120, 6000
        ({"team_id": "y"}, 210.0, 2),  # C, D
        ({"service_id": "checkout"}, 120.0, 3),  # A, B primary; C affected it too
        ({"service_id": "search"}, 210.0, 2),
        ({"severity": 2}, 150.0, 2),  # B, C
        ({"detection_source": "support"}, 210.0, 2),
    ],
)
def test_filters(world, extra, ttd_median, incidents):
    resolved = {k: (world[v].pk if k in {"team_id", "service_id"} else v) for k, v in extra.items()}
    result = stats(Filters(**MARCH, **resolved))
    assert result["incidents"] == incidents
    assert result["metrics"]["time_to_detect"]["median_seconds"] == ttd_median
    assert result["frequency"]["total"] == incidents


def test_period_filter(world):
    result = stats(Filters(start=at(3, 9, 0), end=at(3, 11, 0)))  # B and C only
    assert result["incidents"] == 2
    assert result["metrics"]["time_to_detect"]["mean_seconds"] == 150.0


def test_frequency(world):
    freq = stats(Filters(**MARCH))["frequency"]
    assert freq["total"] == 5
    assert freq["by_severity"] == [
        {"severity": "SEV-1", "count": 1}, {"severity": "SEV-2", "count": 2},
        {"severity": "SEV-3", "count": 1}, {"severity": "SEV-4", "count": 1},
    ]  # fmt: skip
    assert freq["by_team"] == [
        {"team_id": world["x"].pk, "team": "Team X", "count": 3},
        {"team_id": world["y"].pk, "team": "Team Y", "count": 2},
    ]
    assert freq["by_service"] == [
        {"service_id": world["checkout"].pk, "service": "Checkout", "count": 3},
        {"service_id": world["search"].pk, "service": "Search", "count": 2},
    ]
    # Monday weeks: Feb 23 (only Sunday March 1 is in the period) | A (2nd) | B, C (9th, 10th) |
    # D, E (16th, 20th) | - | March 30-31
    assert [w["week_start"] for w in freq["per_week"]] == [
        at(2, 23, 0),
        *(at(3, d, 0) for d in (2, 9, 16, 23, 30)),
    ]
    assert [w["count"] for w in freq["per_week"]] == [0, 1, 2, 2, 0, 0]


def test_trends_last_twelve_weeks(world, settings):
    with time_machine.travel(at(3, 25, 12), tick=False):
        trend = selectors.trends(Filters(**MARCH))
    weeks = trend["weeks"]
    assert len(weeks) == 12
    assert trend["origin"] == at(1, 5, 0)  # Monday eleven weeks before the week of March 25
    by_start = {w["week_start"]: w for w in weeks}
    week_of_mar2 = by_start[at(3, 2, 0)]
    assert week_of_mar2["by_severity"] == {"SEV-1": 1, "SEV-2": 0, "SEV-3": 0, "SEV-4": 0}
    assert week_of_mar2["median_time_to_resolve"] == 1200.0
    week_of_mar9 = by_start[at(3, 9, 0)]  # B and C (the drill on the 11th never counts)
    assert week_of_mar9["by_severity"]["SEV-2"] == 2
    assert week_of_mar9["median_time_to_resolve"] == 3000.0
    assert week_of_mar9["median_time_to_detect"] == {
        "monitoring": 120.0,
        "slo": None,
        "support": 180.0,
        "manual": None,
    }
    assert by_start[at(2, 16, 0)]["by_severity"]["SEV-2"] == 1  # "before" (Feb 20) is in the 12 weeks
    assert by_start[at(3, 23, 0)]["median_time_to_resolve"] is None


def test_trends_follow_team_filter(world):
    with time_machine.travel(at(3, 25, 12), tick=False):
        trend = selectors.trends(Filters(**MARCH, team_id=world["y"].pk))
    totals = sum(sum(w["by_severity"].values()) for w in trend["weeks"])
    assert totals == 2


def test_incident_rows(world):
    rows = list(selectors.incident_rows(Filters(**MARCH)))
    assert [r["number"] for r in rows] == [world["incidents"][k].number for k in "ABCDE"]
    d = rows[3]
    assert d["time_to_detect_duration"] == timedelta(seconds=240)
    assert d["time_to_acknowledge_duration"] is None
    assert d["customer_impact_duration_duration"] is None
    assert rows[1]["has_customer_impact"] is False
    assert rows[1]["customer_impact_duration_duration"] is None
    assert rows[4]["customer_impact_duration_duration"] == timedelta(hours=1)


def test_exact_seconds():
    from decimal import Decimal

    assert str(selectors.exact_seconds(timedelta(seconds=1_123_457))) == "1123457"
    assert str(selectors.exact_seconds(timedelta(seconds=2_345_678, microseconds=250_000))) == "2345678.25"
    assert str(selectors.exact_seconds(timedelta(microseconds=1))) == "0.000001"
    assert str(selectors.exact_seconds(timedelta(0))) == "0"
    assert selectors.exact_seconds(timedelta(days=400, microseconds=7)) == Decimal("34560000.000007")


def test_sub_second_precision(world):
    from tests.metrics import factories

    factories.create(detected_at=at(3, 5), ttd=0.5 / 60, level=4, team=world["x"], number=99999)
    result = stats(Filters(start=at(3, 5, 0), end=at(3, 6, 0)))
    assert result["metrics"]["time_to_detect"]["mean_seconds"] == 0.5


def test_default_period_is_last_thirty_days():
    with time_machine.travel(at(3, 25, 12), tick=False):
        start, end = selectors.default_period()
    assert (end - start) == timedelta(days=29)
    assert end.isoformat() == "2026-03-25"


@pytest.mark.postgresql
@pytest.mark.django_db
def test_window_fallback_equals_percentile_cont(settings):
    """The SQLite fallback's SQL, run on PostgreSQL, gives percentile_cont's answers."""
    import random

    from incidents.models import Incident
    from tests.factories import TeamFactory
    from tests.metrics import factories

    rng = random.Random(7)
    team = TeamFactory()
    base = at(3, 1, 0)
    rows = [
        factories.build(detected_at=base + timedelta(hours=i * 7), ttd=rng.choice([0.5, 1, 2, 3, 5, 8, 13, 240]) + i % 3,
                        level=1 + i % 4, team=team, number=5000 + i,
                        source=rng.choice(Incident.DetectionSource.values))
        for i in range(57)
    ]  # fmt: skip
    Incident.objects.bulk_create(rows)
    filters = Filters(start=base, end=at(4, 1, 0))
    qs = selectors.incident_scope(filters)
    series = [
        selectors.Series(m.key, m.value, m.scope) for m in selectors.metrics()
    ] + selectors._mttd_series()
    for group in (None, selectors.local_week()):
        native = selectors.describe(qs, series, group=group)
        fallback = selectors._percentiles_by_window(qs, series, group)
        checked = 0
        for (g, key), values in fallback.items():
            assert values["median"] == pytest.approx(native[g][key].median, abs=1e-6)
            assert values["p90"] == pytest.approx(native[g][key].p90, abs=1e-6)
            checked += 1
        assert checked >= 5


def _reference_percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    h = (len(ordered) - 1) * fraction
    lo = int(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


@pytest.mark.parametrize("size", [1, 2, 10, 20, 33])
def test_percentiles_match_a_reference_on_random_sets(db, size):
    """Both backends (percentile_cont on PostgreSQL, the window fallback on SQLite) agree
    with a plain reference implementation, including even sizes and ties."""
    import random

    from incidents.models import Incident
    from tests.factories import TeamFactory
    from tests.metrics import factories

    rng = random.Random(size)
    team = TeamFactory()
    base = at(3, 1, 0)
    minutes = [rng.choice([1, 2, 2, 5, 7.5, 30, 90, 600]) for _ in range(size)]
    Incident.objects.bulk_create(
        factories.build(detected_at=base + timedelta(hours=i), ttd=m, team=team, number=7000 + i)
        for i, m in enumerate(minutes)
    )
    got = stats(Filters(start=base, end=at(4, 1, 0)))["metrics"]["time_to_detect"]
    seconds = [m * 60 for m in minutes]
    assert got["count"] == size
    assert got["mean_seconds"] == pytest.approx(sum(seconds) / size, abs=1e-3)
    assert got["median_seconds"] == pytest.approx(_reference_percentile(seconds, 0.5), abs=1e-3)
    assert got["p90_seconds"] == pytest.approx(_reference_percentile(seconds, 0.9), abs=1e-3)
