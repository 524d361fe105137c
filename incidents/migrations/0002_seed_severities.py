"""Seed the severity guide with the portal's defaults (engineering managers edit it later).

Only creates missing levels: re-running, or a level an administrator already edited, is kept.
"""

from django.db import migrations

from incidents.defaults import SEVERITY_DEFAULTS, ensure_severities


def seed(apps, schema_editor):
    ensure_severities(apps.get_model("incidents", "Severity"))


def unseed(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Severity.objects.filter(
        level__in=[r["level"] for r in SEVERITY_DEFAULTS], incidents__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
