"""Create the one support-settings row with the defaults (blocked 15 min, degraded 1 h,
question next business day; surge 3 in 15 minutes opens a SEV-3). Kept if it exists."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("escalations", "SupportSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0001_escalations_and_settings"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
