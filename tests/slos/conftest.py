"""SLO test helpers: an SLO on a fresh service, and writing minute series into its rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from slos import rollups, services
from slos.models import SLO
from tests.factories import ServiceFactory

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday noon, whole hour


def make_slo(*, objective="99", window="28d", kind=SLO.Kind.PUSHED_EVENTS, service=None, **fields) -> SLO:
    service = service or ServiceFactory()
    return services.save_slo(
        service=service, name=fields.pop("name", "Requests"), kind=kind, objective=Decimal(objective), window=window,
        owner_team=service.owner_team, description="Requests answered without a 5xx.", **fields,
    )  # fmt: skip


def write(slo: SLO, series: dict[datetime, tuple[int, int]]) -> None:
    if not series:
        return
    start = min(series)
    end = max(series) + timedelta(minutes=1)
    rollups.replace_minutes(slo.pk, start, end, series)


def steady(
    start: datetime, minutes: int, *, total: int = 100, bad: int = 0
) -> dict[datetime, tuple[int, int]]:
    return {start + timedelta(minutes=i): (total - bad, total) for i in range(minutes)}


@pytest.fixture
def slo(db):
    return make_slo()
