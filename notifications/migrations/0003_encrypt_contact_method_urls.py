"""Encrypt the Slack and webhook URLs already stored (and their copies in history): the column
now holds Fernet tokens (notifications.fields.EncryptedURLField). Reversible."""

from django.db import migrations

from notifications import crypto
from notifications.fields import is_encrypted, rewrite_column


def _rewrite(apps, schema_editor, transform) -> None:
    for label, pk in (("ContactMethod", "id"), ("HistoricalContactMethod", "history_id")):
        table = apps.get_model("notifications", label)._meta.db_table
        rewrite_column(schema_editor, table, pk, "url", transform)


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, lambda v: crypto.encrypt(v) if v and not is_encrypted(v) else v)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, lambda v: (crypto.decrypt(v) or "") if v and is_encrypted(v) else v)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_contact_method_url_encrypted")]

    operations = [migrations.RunPython(encrypt, decrypt)]
