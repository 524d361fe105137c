"""API tokens: hashed at rest, per user, revocable, optional expiry, last use recorded."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import create_token, revoke_token, revoke_user_tokens
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/teams/"  # any endpoint the token's owner may read


def _get(api_client, key, url=API, **extra):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client.get(url, **extra)


def test_the_key_is_returned_once_and_only_its_digest_is_stored(manager):
    token, key = create_token(user=manager, actor=manager, name="grafana sync")
    assert key.startswith("ops_")
    assert len(key) == len("ops_") + 64
    row = ApiToken.objects.get(pk=token.pk)
    assert row.digest == hashlib.sha512(key.encode()).hexdigest()
    assert row.token_key == key[:15]
    assert row.user == manager
    assert row.created_by == manager
    assert row.expiry is None
    # the key is in no column of the table
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(key in value for value in stored)
    assert key not in str(row)
    assert row.digest not in str(row)
    assert str(row) == f"grafana sync ({key[:12]}…)"


def test_two_tokens_of_one_user_are_independent(api_client, manager):
    _, first = create_token(user=manager, actor=manager, name="one")
    second_token, second = create_token(user=manager, actor=manager, name="two")
    revoke_token(token=second_token, actor=manager)
    assert _get(api_client, first).status_code == 200
    assert _get(api_client, second).status_code == 401


@pytest.mark.parametrize("actor", ["manager", "responder", "release_lead", "superuser"])
def test_staff_roles_create_tokens_for_themselves(request, actor):
    user = request.getfixturevalue(actor)
    token, _ = create_token(user=user, actor=user, name="laptop script")
    assert token.user == user


@pytest.mark.parametrize("actor", ["support_user", "outsider"])
def test_people_without_a_staff_role_cannot_create_tokens(request, actor):
    user = request.getfixturevalue(actor)
    with pytest.raises(NotAllowed, match="Only engineering managers, responders and release leads"):
        create_token(user=user, actor=user, name="x")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("actor", ["manager", "responder", "release_lead"])
def test_nobody_but_a_superuser_creates_a_token_acting_as_someone_else(request, actor, support_user):
    victim = UserFactory(username="ci-bot")
    with pytest.raises(NotAllowed, match="only for yourself"):
        create_token(user=victim, actor=request.getfixturevalue(actor), name="x")
    assert not ApiToken.objects.exists()


def test_a_superuser_creates_a_token_for_a_machine_account(api_client, superuser, manager):
    token, key = create_token(user=manager, actor=superuser, name="nightly export")
    assert (token.user, token.created_by) == (manager, superuser)
    assert _get(api_client, key).status_code == 200
    inactive = UserFactory(username="gone", is_active=False)
    with pytest.raises(InvalidInput, match="deactivated"):
        create_token(user=inactive, actor=superuser, name="x")


@pytest.mark.parametrize(
    ("name", "expires_in", "message"),
    [
        ("", None, "Name the token"),
        ("   ", None, "Name the token"),
        ("x" * 101, None, "100 characters"),
        ("ok", timedelta(seconds=-1), "must be in the future"),
        ("ok", timedelta(seconds=5), "must be in the future"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(manager, name, expires_in, message):
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    with pytest.raises(InvalidInput, match=message):
        create_token(user=manager, actor=manager, name=name, expires_at=expires_at)
    assert not ApiToken.objects.exists()


def test_expired_token_is_refused_with_401_and_kept(api_client, manager):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token, key = create_token(
            user=manager, actor=manager, name="short", expires_at=timezone.now() + timedelta(days=30)
        )
        traveller.shift(timedelta(days=29, hours=23))
        assert _get(api_client, key).status_code == 200
        traveller.shift(timedelta(hours=1))
        response = _get(api_client, key)
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired."}
    assert response["WWW-Authenticate"] == "Token"
    assert ApiToken.objects.filter(pk=token.pk).exists()  # knox would have deleted it


def test_revoked_token_is_refused_with_401(api_client, manager):
    token, key = create_token(user=manager, actor=manager, name="to revoke")
    assert _get(api_client, key).status_code == 200
    revoke_token(token=token, actor=manager)
    response = _get(api_client, key)
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has been revoked."}
    token.refresh_from_db()
    assert token.revoked_by == manager
    assert token.revoked_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Token not-a-real-token",
        "Token ops_" + "0" * 64,
        "Token " + "a" * 500,
        "Token",
        "Token a b",
        "Token \xff\xfe",
    ],
)
def test_unknown_or_malformed_keys_get_401_never_500(api_client, manager, header):
    create_token(user=manager, actor=manager, name="real")
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get(API)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_deactivated_owners_tokens_stop_working(api_client, manager):
    _, key = create_token(user=manager, actor=manager, name="x")
    manager.is_active = False
    manager.save()
    assert _get(api_client, key).status_code == 401


def _token_updates(queries):
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "accounts_apitoken" in q["sql"]]


def test_last_used_is_recorded_at_most_once_a_minute(api_client, manager):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token, key = create_token(user=manager, actor=manager, name="busy")
        assert token.last_used_at is None
        first_use = timezone.now()
        with CaptureQueriesContext(connection) as first:
            assert _get(api_client, key).status_code == 200
        assert len(_token_updates(first.captured_queries)) == 1
        token.refresh_from_db()
        assert token.last_used_at == first_use

        traveller.shift(timedelta(seconds=59))
        with CaptureQueriesContext(connection) as again:
            for _ in range(3):
                assert _get(api_client, key).status_code == 200
        assert _token_updates(again.captured_queries) == []  # no write per request
        token.refresh_from_db()
        assert token.last_used_at == first_use

        traveller.shift(timedelta(seconds=1))
        assert _get(api_client, key).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == first_use + timedelta(minutes=1)


class TestRevoking:
    def test_owner_revokes_own_token_once(self, responder):
        token, _ = create_token(user=responder, actor=responder, name="x")
        revoke_token(token=token, actor=responder)
        with pytest.raises(Conflict, match="already revoked"):
            revoke_token(token=token, actor=responder)

    @pytest.mark.parametrize("actor", ["release_lead", "support_user", "outsider"])
    def test_others_cannot_revoke(self, request, responder, actor):
        token, _ = create_token(user=responder, actor=responder, name="x")
        with pytest.raises(NotAllowed):
            revoke_token(token=token, actor=request.getfixturevalue(actor))
        token.refresh_from_db()
        assert token.revoked_at is None

    @pytest.mark.parametrize("actor", ["manager", "superuser"])
    def test_managers_and_superusers_revoke_anyones(self, request, responder, actor):
        token, _ = create_token(user=responder, actor=responder, name="x")
        revoke_token(token=token, actor=request.getfixturevalue(actor))
        token.refresh_from_db()
        assert token.revoked_by == request.getfixturevalue(actor)

    def test_a_manager_revokes_every_working_token_of_a_leaver(self, api_client, manager, responder):
        with time_machine.travel(timezone.now(), tick=False) as traveller:
            keys = [create_token(user=responder, actor=responder, name=f"t{n}")[1] for n in range(3)]
            expiring, _ = create_token(
                user=responder, actor=responder, name="soon", expires_at=timezone.now() + timedelta(days=1)
            )
            _mine, my_key = create_token(user=manager, actor=manager, name="mine")
            traveller.shift(timedelta(days=2))
            assert revoke_user_tokens(user=responder, actor=manager) == 3
            assert revoke_user_tokens(user=responder, actor=manager) == 0
            assert all(_get(api_client, key).status_code == 401 for key in keys)
            assert _get(api_client, my_key).status_code == 200
        expiring.refresh_from_db()
        assert expiring.revoked_at is None  # already expired: left as it was

    def test_a_responder_cannot_revoke_a_colleagues_tokens_in_bulk(self, responder, release_lead):
        create_token(user=release_lead, actor=release_lead, name="x")
        with pytest.raises(NotAllowed):
            revoke_user_tokens(user=release_lead, actor=responder)
