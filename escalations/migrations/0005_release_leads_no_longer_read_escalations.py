"""Release leads no longer read support escalations (customers' names and contacts):
``escalations.permissions`` stopped granting it; existing installs lose it here."""

from django.db import migrations

from accounts.roles import RELEASE_LEADS, revoke


def forwards(apps, schema_editor):
    revoke(apps, {RELEASE_LEADS: {"escalations.view_escalation"}})


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0004_backfill_dispatched_at"),
        ("accounts", "0002_create_role_groups"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
