"""The dashboard's SLO panel: worst budget first, burn-down chart, constant query count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from slos import dashboard
from tests.slos.conftest import make_slo, steady, write

pytestmark = pytest.mark.django_db


class _Request:
    def __init__(self, user):
        self.user = user


def _off_the_hour():
    """A past minute 20 past the hour: the window sums' query count depends on where the
    windows' edges fall (a window ending on the hour has no edge minutes: 1 query instead of
    3), so a test counting queries must not take the clock as it comes (it failed whenever it
    ran at hh:00, or hh:57 for the snapshot test's now + 3 minutes)."""
    return timezone.now().replace(minute=20, second=0, microsecond=0) - timedelta(hours=1)


@pytest.mark.parametrize("count", [1, 25])
def test_panel_is_worst_first_with_a_constant_query_count(manager, django_assert_num_queries, count):
    now = _off_the_hour()
    for i in range(count):
        slo = make_slo(objective="99", name=f"SLO {i}")
        write(slo, steady(now - timedelta(days=2), 2 * 1440, total=10, bad=0))
        write(slo, {now - timedelta(hours=3): (10 - min(i, 10), 10)})
    # the viewer's permissions (2: user and group permissions, cached after), SLOs with service
    # and team (1), window sums: whole hours (1) and the edge minutes (2 clusters: the last hour,
    # the 28-day window's leading edge), open alerts (1), burn-down series of the rows shown (1)
    with django_assert_num_queries(8):
        panel = dashboard.panel(_Request(manager), now=now)
    rows = panel["rows"]
    assert len(rows) == min(count, dashboard.PANEL_ROWS)
    worst = {f"SLO {i}" for i in range(count) if min(i, 10) == min(count - 1, 10)}
    assert rows[0]["slo"].name in worst  # the most bad events: least budget left
    assert "<svg" in str(rows[0]["chart"])


def test_panel_is_hidden_from_people_without_slo_access(support_user):
    assert dashboard.panel(_Request(support_user)) == {"visible": False}


def test_panel_reads_the_last_sweeps_snapshot(manager, django_assert_num_queries):
    from django.core.cache import cache

    from slos import selectors, services

    cache.delete(selectors.SNAPSHOT_KEY)
    now = _off_the_hour()
    slo = make_slo(objective="99", name="Snap")
    write(slo, steady(now - timedelta(hours=2), 120, total=10, bad=0))
    write(slo, {now - timedelta(minutes=30): (5, 10)})
    services.sweep(now=now, sync=False)
    # permissions (2), SLOs (1), open alerts (1), burn-down (1): no window sums
    with django_assert_num_queries(5):
        panel = dashboard.panel(_Request(manager), now=now + timedelta(seconds=30))
    assert panel["rows"][0]["remaining"] == selectors.fmt_pct(1 - 5 / (0.01 * 1200))
    # stale snapshot: computed again - SLOs, window sums (3), open alerts, burn-down (permissions cached)
    with django_assert_num_queries(6):
        dashboard.panel(_Request(manager), now=now + timedelta(minutes=3))
    cache.delete(selectors.SNAPSHOT_KEY)
