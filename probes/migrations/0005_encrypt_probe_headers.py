"""Encrypt the request headers already stored (and their copies in history): the column now
holds a Fernet token of the JSON object (notifications.fields.EncryptedJSONField); an empty
object is stored empty. Reversible."""

import json

from django.db import migrations

from notifications import crypto
from notifications.fields import is_encrypted, rewrite_column


def _rewrite(apps, schema_editor, transform) -> None:
    for label, pk in (("Probe", "id"), ("HistoricalProbe", "history_id")):
        table = apps.get_model("probes", label)._meta.db_table
        rewrite_column(schema_editor, table, pk, "headers", transform)


def _encrypt(value):
    if not value or is_encrypted(value):
        return value
    headers = json.loads(value) if isinstance(value, str) else value
    return crypto.encrypt(json.dumps(headers, sort_keys=True)) if headers else ""


def _decrypt(value):
    if not value:
        return "{}"
    if not is_encrypted(value):
        return value
    return crypto.decrypt(value) or "{}"


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, _encrypt)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, _decrypt)


class Migration(migrations.Migration):
    dependencies = [("probes", "0004_probe_headers_encrypted")]

    operations = [migrations.RunPython(encrypt, decrypt)]
