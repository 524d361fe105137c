from datetime import UTC, datetime

import pytest

from incidents.models import Incident
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.metrics import factories

MONITORING = Incident.DetectionSource.MONITORING
SUPPORT = Incident.DetectionSource.SUPPORT
MANUAL = Incident.DetectionSource.MANUAL


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _severities(request):
    """The seeded severity levels, even after a transactional test flushed the tables."""
    if "django_db" not in {m.name for m in request.node.iter_markers()}:
        return
    request.getfixturevalue("_django_db_helper")
    from incidents.defaults import ensure_severities

    ensure_severities()


@pytest.fixture
def world(db, settings):
    """The hand-built set every known answer in test_selectors.py is computed from.

    Minutes:      ttd  tta  ttm  ttr  source      team  sev  customer impact
      A            1    2   10   20   monitoring  X     1    impact text
      B            2    4   20   40   monitoring  X     2    -
      C            3    6   30   60   support     Y     2    5 customers affected
      D            4    -    -    -   support     Y     3    impact text (open, unmitigated)
      E          100   10   60    -   manual      X     4    2 customers reported via support
      drill     1000    ...                                   (never counted)
      before       9    ...  detected in February             (outside the period)
    """
    settings.TIME_ZONE = "UTC"
    boss = UserFactory(username="ic")
    x = TeamFactory(name="Team X", slug="team-x")
    y = TeamFactory(name="Team Y", slug="team-y")
    sx = ServiceFactory(name="Checkout", slug="checkout", owner_team=x)
    sy = ServiceFactory(name="Search", slug="search", owner_team=y)
    c = dict(commander=boss)
    made = {
        "A": factories.create(detected_at=at(3, 2), ttd=1, tta=2, ttm=10, ttr=20, level=1, source=MONITORING,
                              team=x, service=sx, services=[sx], customer_impact="Checkout down", **c),
        "B": factories.create(detected_at=at(3, 9), ttd=2, tta=4, ttm=20, ttr=40, level=2, source=MONITORING,
                              team=x, service=sx, services=[sx], **c),
        "C": factories.create(detected_at=at(3, 10), ttd=3, tta=6, ttm=30, ttr=60, level=2, source=SUPPORT,
                              team=y, service=sy, services=[sy, sx], customers_affected=5, **c),
        "D": factories.create(detected_at=at(3, 16), ttd=4, level=3, source=SUPPORT, team=y, service=sy,
                              services=[sy], customer_impact="Search results empty"),
        "E": factories.create(detected_at=at(3, 20), ttd=100, tta=10, ttm=60, level=4, source=MANUAL,
                              team=x, reported_customers=2, **c),
        "drill": factories.create(detected_at=at(3, 11), ttd=1000, tta=1, ttm=2, ttr=3, team=x, drill=True, **c),
        "before": factories.create(detected_at=at(2, 20), ttd=9, tta=1, ttm=2, ttr=3, team=x, **c),
    }  # fmt: skip
    return {"incidents": made, "x": x, "y": y, "checkout": sx, "search": sy, "commander": boss}
