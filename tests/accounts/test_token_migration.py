"""The move from DRF's plaintext token table to hashed ApiTokens (migrations 0004 and 0005)."""

import importlib
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from accounts import roles
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

move = importlib.import_module("accounts.migrations.0004_move_drf_tokens_to_api_tokens")
drop = importlib.import_module("accounts.migrations.0005_drop_drf_token_table")

DRF_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # the shape DRF issued: 40 hex


@pytest.fixture
def legacy_install(manager):
    """What a deployment of the previous release holds: DRF's table with a key, its content
    types and permissions (granted to managers), and admin history naming the key."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote('authtoken_token')} ({quote('key')} varchar(40) PRIMARY KEY, "
            f"{quote('created')} timestamp with time zone NOT NULL, {quote('user_id')} bigint NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime NOT NULL, "
            "user_id bigint NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (" + quote("key") + ", created, user_id) VALUES (%s, %s, %s)",  # noqa: S608
            [DRF_KEY, datetime(2025, 3, 1, 9, 30, tzinfo=UTC), manager.pk],
        )
    token_type = ContentType.objects.create(app_label="authtoken", model="token")
    view_token = Permission.objects.create(
        content_type=token_type, codename="view_token", name="Can view token"
    )
    Group.objects.get(name=roles.MANAGERS).permissions.add(view_token)
    LogEntry.objects.create(
        user=manager, content_type=token_type, object_id=DRF_KEY, object_repr=DRF_KEY, action_flag=ADDITION
    )
    MigrationRecorder(connection).record_applied("authtoken", "0001_initial")
    return manager


class _Editor:
    """What the two migrations use of a schema editor. (SQLite cannot open a real one inside
    the test's transaction; the real ones run when the test database is migrated.)"""

    connection = connection

    def execute(self, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _run(function):
    function(apps, _Editor())


def test_existing_keys_keep_working_hashed_and_the_plaintext_is_gone(api_client, legacy_install):
    manager = legacy_install
    _run(move.move_tokens)

    token = ApiToken.objects.get()
    assert token.user == manager
    assert token.token_key == DRF_KEY[:15]
    assert DRF_KEY not in {token.digest, token.name, token.token_key}
    assert token.created == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert token.name == "Old token, created 2025-03-01"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert not LogEntry.objects.filter(object_repr=DRF_KEY).exists()
    assert not ContentType.objects.filter(app_label="authtoken").exists()
    assert not Group.objects.get(name=roles.MANAGERS).permissions.filter(codename="view_token").exists()

    # the machine that held the old key is still let in
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {DRF_KEY}")
    assert api_client.get("/api/v1/teams/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    _run(lambda apps, editor: editor.execute(drop.Migration.operations[0].sql))
    _run(drop.forget_authtoken_migrations)
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()


def test_on_a_fresh_install_the_moves_do_nothing():
    assert "authtoken_token" not in connection.introspection.table_names()
    _run(move.move_tokens)
    _run(lambda apps, editor: editor.execute(drop.Migration.operations[0].sql))
    assert not ApiToken.objects.exists()
