"""Shared fixtures: named actors for every role, and loud failures when the real
services the suite needs (Redis, and PostgreSQL in CI) are not there."""

import os

import pytest
import redis
from django.conf import settings
from django.http import HttpRequest
from django.test import Client
from rest_framework.test import APIClient

from accounts import roles
from tests.factories import UserFactory

PASSWORD = "pw-for-tests"


def pytest_collection_modifyitems(config, items):
    """Race tests marked ``postgresql`` exercise PostgreSQL's row locks with real threads.

    SQLite (the bare-machine default) serialises writers with a file lock and cannot run
    them; there they are deselected with a note. CI always runs on PostgreSQL, and refuses
    to run on anything else (see _real_services_present), so they never go unrun there.
    """
    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    selected = [i for i in items if i.get_closest_marker("postgresql") is None]
    deselected = [i for i in items if i.get_closest_marker("postgresql") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
        config.issue_config_time_warning(
            pytest.PytestWarning(f"{len(deselected)} PostgreSQL race test(s) not run on SQLite"), stacklevel=2
        )


@pytest.fixture(scope="session", autouse=True)
def _real_services_present():
    """Fail (never skip) when the suite would otherwise test less than it claims."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at REDIS_URL={settings.REDIS_URL} is unreachable: {exc}", returncode=3)
    if os.environ.get("CI") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.exit("CI must run on PostgreSQL: set DATABASE_URL", returncode=3)


class _LoginWithRequest:
    """``login()`` passing a request to ``authenticate()``: sign-in lockout (django-axes) stays
    on in tests and refuses to authenticate without one. A blank request from the test
    client's address is what axes documents for tests."""

    def login(self, **credentials):
        request = HttpRequest()
        request.META["REMOTE_ADDR"] = "127.0.0.1"
        return super().login(request=request, **credentials)


class LoginClient(_LoginWithRequest, Client):
    pass


class LoginAPIClient(_LoginWithRequest, APIClient):
    pass


@pytest.fixture
def client():
    return LoginClient()


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", is_staff=True, roles=[roles.MANAGERS])


@pytest.fixture
def responder(db):
    return UserFactory(username="responder", is_staff=True, roles=[roles.RESPONDERS])


@pytest.fixture
def support_user(db):
    return UserFactory(username="support", is_staff=False, roles=[roles.SUPPORT])


@pytest.fixture
def release_lead(db):
    return UserFactory(username="releaselead", is_staff=True, roles=[roles.RELEASE_LEADS])


@pytest.fixture
def outsider(db):
    """Signed in, but in no role group and not staff."""
    return UserFactory(username="outsider", is_staff=False)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def manager_client(client, manager):
    return _client_for(client, manager)


@pytest.fixture
def support_client(client, support_user):
    return _client_for(client, support_user)


@pytest.fixture
def api_client():
    return LoginAPIClient()


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient authenticated as that user (session)."""

    def make(user):
        c = LoginAPIClient()
        c.force_authenticate(user)
        return c

    return make
