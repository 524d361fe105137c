"""Drop DRF's token table (emptied by 0004) and forget its migrations, so the plaintext
table cannot come back and re-adding the app later would start clean."""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder


def forget_authtoken_migrations(apps, schema_editor):
    MigrationRecorder(schema_editor.connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_move_drf_tokens_to_api_tokens")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
        migrations.RunPython(forget_authtoken_migrations, migrations.RunPython.noop),
    ]
