"""oncall 0002 repairs existing layers before 0003 makes the date rules database constraints,
so ``migrate`` never fails on a portal that already stored such layers."""

from datetime import UTC, date, datetime, time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from oncall.rotation import Layer, layer_shifts

BEFORE = [("oncall", "0001_schedules_policies_pages")]
AFTER = [("oncall", "0003_bound_layer_dates")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_repair_keeps_turns_and_drops_layers_that_never_run():
    apps = _migrate(BEFORE)
    try:
        Team = apps.get_model("catalog", "Team")
        User = apps.get_model("accounts", "User")
        Schedule = apps.get_model("oncall", "Schedule")
        RotationLayer = apps.get_model("oncall", "RotationLayer")
        LayerMember = apps.get_model("oncall", "LayerMember")
        team = Team.objects.create(name="Payments", slug="payments")
        schedule = Schedule.objects.create(team=team, name="Primary", time_zone="Europe/Berlin")
        people = [User.objects.create(username=f"u{i}") for i in range(3)]

        def layer(position, **fields):
            row = RotationLayer.objects.create(schedule=schedule, position=position, **fields)
            for i, person in enumerate(people):
                LayerMember.objects.create(layer=row, user=person, position=i)
            return row

        old = layer(
            1, rotation_unit="hours", rotation_length=10, start_date=date(1990, 6, 1), handoff_time=time(9)
        )
        future = layer(2, start_date=date(9999, 12, 31))
        endless = layer(3, start_date=date(2026, 1, 5), end_at=datetime(9999, 1, 1, tzinfo=UTC))
        backwards = layer(4, start_date=date(2026, 1, 5), end_at=datetime(2025, 1, 1, tzinfo=UTC))
        fine = layer(5, start_date=date(2026, 1, 5), end_at=datetime(2027, 1, 1, tzinfo=UTC))
        window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))

        def shifts(row):
            spec = Layer(row.pk, tuple(p.pk for p in people), row.rotation_unit, row.rotation_length,
                         row.start_date, row.handoff_time, row.end_at)  # fmt: skip
            return [(s.start, s.end, s.user) for s in layer_shifts(spec, "Europe/Berlin", *window)]

        old_shifts = shifts(old)
        apps = _migrate(AFTER)
        RotationLayer = apps.get_model("oncall", "RotationLayer")
        rows = {r.position: r for r in RotationLayer.objects.all()}
        assert set(rows) == {1, 2, 3, 5}  # the backwards layer never put anyone on call
        assert date(2000, 1, 1) <= rows[1].start_date < date(2000, 1, 6)  # 30-hour cycles, 5-day steps
        assert shifts(rows[1]) == old_shifts  # same person, same hours
        assert rows[2].start_date == date(2100, 12, 31)
        assert rows[3].end_at is None
        assert (rows[5].start_date, rows[5].end_at) == (fine.start_date, fine.end_at)
        assert not RotationLayer.objects.filter(pk=backwards.pk).exists()
        assert endless.pk == rows[3].pk
        assert future.pk == rows[2].pk
    finally:
        _migrate(_latest())


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
