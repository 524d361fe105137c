"""Model fields whose values are secrets: stored encrypted (``notifications.crypto``, Fernet),
read back in plain text by the code that needs them (the sender, the probe engine).

A Slack or webhook URL is a credential (anyone holding it can post), and so is a probe's
``Authorization`` header; a database dump, a backup or a history table must not hand them
out. The column holds a Fernet token; an empty value stays empty (so "has one" checks and
constraints keep working). Tokens are not deterministic: these fields cannot be filtered on.
simple-history copies the field into the historical model, so history rows are encrypted too.

A value that no configured key can read (the key was rotated away without keeping it in
``SECRET_KEY_FALLBACKS``) reads back empty, and the owner is asked to enter it again.
"""

from __future__ import annotations

import json

from django import forms
from django.core import validators
from django.db import models

from notifications import crypto

TOKEN_PREFIX = "gAAAAA"  # noqa: S105 - not a secret: every Fernet token starts with its version byte, base64: 0x80 -> "gA"


def is_encrypted(value) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


class EncryptedTextField(models.TextField):
    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        plain = crypto.decrypt(value)
        return "" if plain is None else plain

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value)


class EncryptedURLField(EncryptedTextField):
    """An http(s) URL of at most ``max_length`` characters (checked on the plain text)."""

    default_validators = [validators.URLValidator(schemes=["http", "https"])]

    def __init__(self, *args, max_length: int = 500, **kwargs):
        self.url_max_length = max_length
        super().__init__(*args, **kwargs)
        self.validators.append(validators.MaxLengthValidator(max_length))

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["max_length"] = self.url_max_length
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return super().formfield(
            **{
                "form_class": forms.URLField,
                "max_length": self.url_max_length,
                "assume_scheme": "https",
                **kwargs,
            }
        )


class EncryptedJSONField(models.TextField):
    """A JSON object (e.g. request headers), stored as an encrypted JSON text."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return {}
        plain = crypto.decrypt(value)
        if plain is None:
            return {}
        return json.loads(plain)

    def to_python(self, value):
        if isinstance(value, dict) or value is None:
            return value or {}
        return json.loads(value)

    def get_prep_value(self, value):
        if not value:
            return ""
        return crypto.encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


def rewrite_column(schema_editor, table: str, pk: str, column: str, transform) -> None:
    """For data migrations: set ``column`` to ``transform(value)`` on every row of ``table``
    (raw SQL: the model's field would decrypt what it reads)."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)}")  # noqa: S608
        for key, value in cursor.fetchall():
            new = transform(value)
            if new != value:
                cursor.execute(
                    f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s",  # noqa: S608
                    [new, key],
                )
