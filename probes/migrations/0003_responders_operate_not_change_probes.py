"""Responders pause, resume and run probes (``operate_probe``) but no longer change what a
probe checks (``change_probe``): existing installs lose the old grant here; the new one is
granted by the role sync after migrate."""

from django.db import migrations

from accounts.roles import RESPONDERS, revoke


def forwards(apps, schema_editor):
    revoke(apps, {RESPONDERS: {"probes.change_probe"}})


class Migration(migrations.Migration):
    dependencies = [
        ("probes", "0002_probe_operate_permission"),
        ("accounts", "0002_create_role_groups"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
