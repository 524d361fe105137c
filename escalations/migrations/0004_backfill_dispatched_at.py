"""Escalations filed before dispatching moved to the worker were paged (or their team told)
inside the filing's own transaction: they are dispatched as of their filing time, so the
dispatch auditor never pages them again."""

from django.db import migrations
from django.db.models import F


def backfill(apps, schema_editor):
    Escalation = apps.get_model("escalations", "Escalation")
    Escalation.objects.filter(dispatched_at__isnull=True).update(dispatched_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("escalations", "0003_escalation_dispatched_at")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
