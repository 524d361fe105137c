"""Bring existing rotation layers inside the rules 0003 makes database constraints:
start date in 2000-2100, end before 2101, end after the start date began (midnight UTC).

- A start date before 2000 moves forward by whole rotation cycles (rotation length x
  participants, and whole days for hourly rotations), so every turn from 2000 on is the same
  person at the same time as before.
- A start date after 2100 becomes 2100-12-31: such a layer never put anyone on call.
- An end from 2101 on is removed (the layer simply does not end in this century either).
- A layer that ends before its start date began puts nobody on call: it is deleted.
"""

from datetime import UTC, date, datetime, time, timedelta
from math import ceil, lcm

from django.db import migrations
from django.db.models import F, Q

FIRST = date(2000, 1, 1)
LAST = date(2100, 12, 31)
END_LIMIT = datetime(2101, 1, 1, tzinfo=UTC)


def _cycle_days(layer, participants: int) -> int:
    turns = layer.rotation_length * max(participants, 1)
    if layer.rotation_unit == "hours":
        return lcm(turns, 24) // 24
    return turns * (7 if layer.rotation_unit == "weeks" else 1)


def repair(apps, schema_editor):
    RotationLayer = apps.get_model("oncall", "RotationLayer")
    LayerMember = apps.get_model("oncall", "LayerMember")
    wrong = RotationLayer.objects.filter(
        Q(start_date__lt=FIRST)
        | Q(start_date__gt=LAST)
        | Q(end_at__gte=END_LIMIT)
        | Q(end_at__lte=F("start_date"))
    )
    for layer in wrong.iterator():
        if layer.start_date < FIRST:
            step = _cycle_days(layer, LayerMember.objects.filter(layer_id=layer.pk).count())
            if step > (LAST - FIRST).days:
                layer.start_date = FIRST
            else:
                layer.start_date += timedelta(days=ceil((FIRST - layer.start_date).days / step) * step)
        elif layer.start_date > LAST:
            layer.start_date = LAST
        if layer.end_at is not None and layer.end_at >= END_LIMIT:
            layer.end_at = None
        if layer.end_at is not None and layer.end_at <= datetime.combine(
            layer.start_date, time(0), tzinfo=UTC
        ):
            layer.delete()
            continue
        layer.save(update_fields=["start_date", "end_at"])


class Migration(migrations.Migration):
    dependencies = [("oncall", "0001_schedules_policies_pages")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
