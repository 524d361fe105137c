"""Backfill ``Incident.peak_severity``: the most severe level each incident ever had.

The history rows (django-simple-history records every save, severity changes included) give
the levels an incident went through; an incident without history rows (bulk-loaded) takes its
current severity. One aggregate over the history, then one UPDATE per level and batch of ids;
``updated_at`` and the history are left alone (this is a derived column, not an edit).
"""

from django.db import migrations
from django.db.models import Min

BATCH = 2000


def backfill_peak_severity(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    HistoricalIncident = apps.get_model("incidents", "HistoricalIncident")
    Severity = apps.get_model("incidents", "Severity")

    level_of = dict(Severity.objects.values_list("pk", "level"))
    severity_at = {level: pk for pk, level in level_of.items()}
    most_severe_in_history = dict(
        HistoricalIncident.objects.filter(severity__isnull=False)
        .order_by()  # no Meta ordering in the GROUP BY
        .values("id")
        .annotate(level=Min("severity__level"))
        .values_list("id", "level")
    )
    ids_by_peak: dict[int, list[int]] = {}
    for pk, severity_id in Incident.objects.order_by().values_list("pk", "severity_id").iterator(BATCH):
        current = level_of[severity_id]
        peak = min(current, most_severe_in_history.get(pk, current))
        ids_by_peak.setdefault(severity_at[peak], []).append(pk)
    for severity_id, ids in ids_by_peak.items():
        for start in range(0, len(ids), BATCH):
            Incident.objects.filter(pk__in=ids[start : start + BATCH]).update(peak_severity_id=severity_id)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_incident_peak_severity"),
    ]

    operations = [migrations.RunPython(backfill_peak_severity, migrations.RunPython.noop)]
