"""Move DRF's plaintext tokens (rest_framework.authtoken, no longer installed) to ApiToken.

Each existing key becomes an ApiToken with the SAME key, stored as knox stores keys (the
SHA-512 digest plus its first 15 characters for the lookup), so deployed machines keep
working; then the plaintext rows are deleted. The admin history of those tokens goes too:
DRF printed a token as its key, so every admin log entry about one holds a key in clear.
The content types and permissions of the old models are removed with them.

On a fresh install the old table never existed and this does nothing. 0005 drops the table.
"""

from datetime import UTC

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.settings import CONSTANTS

LEGACY_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):  # SQLite hands raw cursors text
        value = parse_datetime(value)
    if value is None:
        return timezone.now()
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def move_tokens(apps, schema_editor):
    connection = schema_editor.connection
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    legacy_types = ContentType.objects.using(connection.alias).filter(app_label="authtoken")
    # admin "Recent actions" and object history print object_repr: the plaintext key
    LogEntry.objects.using(connection.alias).filter(content_type__in=legacy_types).delete()
    legacy_types.delete()  # and their permissions, and the roles' grants of them

    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(LEGACY_TABLE)}"  # noqa: S608 (constant names)
        )
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        created = _aware(created)
        token = ApiToken.objects.using(connection.alias).create(
            digest=hash_token(key),
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=user_id,
            name=f"Old token, created {created:%Y-%m-%d}",
        )
        # created is auto_now_add: keep the original date with an update
        ApiToken.objects.using(connection.alias).filter(pk=token.pk).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(LEGACY_TABLE)}")  # noqa: S608 (constant name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_tokens"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # the keys cannot be recovered from their digests: nothing to undo
    operations = [migrations.RunPython(move_tokens, migrations.RunPython.noop)]
