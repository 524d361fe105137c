"""Token races with real threads on PostgreSQL (SQLite serialises writers: not run there)."""

import pytest

from accounts import roles
from accounts.models import ApiToken
from accounts.services import authenticate_token, create_token, revoke_token
from opsportal.errors import Conflict
from tests.concurrency import run_concurrently
from tests.factories import UserFactory


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_people_revoke_the_same_token_at_once():
    owner = UserFactory(username="owner", is_staff=True, roles=[roles.RESPONDERS])
    manager = UserFactory(username="boss", is_staff=True, roles=[roles.MANAGERS])
    token, _ = create_token(user=owner, actor=owner, name="leaked")
    results = run_concurrently(
        [
            lambda: revoke_token(token=ApiToken.objects.get(pk=token.pk), actor=owner),
            lambda: revoke_token(token=ApiToken.objects.get(pk=token.pk), actor=manager),
        ]
    )
    assert sorted(type(r).__name__ for r in results) == ["ApiToken", "Conflict"]
    winner = next(r for r in results if not isinstance(r, Conflict))
    token.refresh_from_db()
    assert token.revoked_by == winner.revoked_by


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_requests_records_last_use_once():
    owner = UserFactory(username="owner", is_staff=True, roles=[roles.RESPONDERS])
    _, key = create_token(user=owner, actor=owner, name="busy")
    results = run_concurrently([lambda: authenticate_token(key=key) for _ in range(6)])
    assert all(isinstance(r, ApiToken) for r in results), results
    # One request wrote its time; the others either read it afterwards or lost the conditional
    # UPDATE (and keep "never"): nobody overwrote it with a later time of their own.
    stored = ApiToken.objects.get().last_used_at
    assert stored is not None
    assert {r.last_used_at for r in results} - {None} == {stored}
