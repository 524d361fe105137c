"""Encrypt the Slack and webhook URLs already stored (and their copies in history): the column
now holds Fernet tokens (notifications.fields.EncryptedURLField). Reversible."""

from django.db import migrations

from notifications import crypto
from notifications.fields import is_encrypted


def _rewrite(apps, schema_editor, transform) -> None:
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    for label, pk in (("ContactMethod", "id"), ("HistoricalContactMethod", "history_id")):
        table = apps.get_model("notifications", label)._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {quote(pk)}, {quote('url')} FROM {quote(table)}")  # noqa: S608
            rows = cursor.fetchall()
            for key, value in rows:
                new = transform(value)
                if new != value:
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote('url')} = %s WHERE {quote(pk)} = %s",  # noqa: S608
                        [new, key],
                    )


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, lambda v: crypto.encrypt(v) if v and not is_encrypted(v) else v)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, lambda v: (crypto.decrypt(v) or "") if v and is_encrypted(v) else v)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_contact_method_url_encrypted")]

    operations = [migrations.RunPython(encrypt, decrypt)]
