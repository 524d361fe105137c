"""Every bad answer from the identity provider is refused with a clear page (403) and an audit
row, and nobody is signed in or created. The provider is real (see conftest); the bad tokens
are made by it, through per-person test quirks (tests/identity/idp/validator.py).

SSO_ONLY: password sign-in is refused for everyone but the break-glass superusers, at the
admin login and /accounts/login/ alike."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from identity.models import AuditEvent
from tests.identity.conftest import provider_round_trip, sign_in

pytestmark = pytest.mark.django_db


def refused(response, reason: str) -> AuditEvent:
    assert response.status_code == 403, response.content[:400]
    assert b"Sign-in refused" in response.content
    assert reason.encode() in response.content
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN_FAILED).latest("at")
    assert event.changes["reason"] == reason
    assert event.source == AuditEvent.Source.OIDC
    assert event.ip_address == "127.0.0.1"
    return event


@pytest.mark.parametrize(
    ("quirk", "reason", "says"),
    [
        ("wrong_audience", "wrong_audience", b"issued to another application"),
        ("expired", "expired", b"has expired"),
        ("bad_signature", "bad_signature", b"signature does not verify"),
    ],
)
def test_bad_id_tokens_are_refused(sso, client, quirk, reason, says):
    sso.person(f"q-{quirk}", groups=["ops-managers", f"quirk:{quirk}"])
    response = sign_in(client, f"q-{quirk}")
    refused(response, reason)
    assert says in response.content
    assert not get_user_model().objects.filter(email=f"q-{quirk}@example.com").exists()
    assert client.get("/admin/").status_code == 302  # not signed in


def test_missing_email_is_refused(sso, client):
    sso.person("noemail", groups=["oncall", "quirk:no_email"])
    event = refused(sign_in(client, "noemail"), "missing_email")
    assert event.user is None
    assert not get_user_model().objects.filter(username="noemail").exists()


def test_unverified_email_is_refused(sso, client):
    sso.person("unverified", groups=["oncall", "unverified"])
    response = sign_in(client, "unverified")
    event = refused(response, "unverified_email")
    assert b"has not verified unverified@example.com" in response.content
    assert event.username == "unverified@example.com"


def test_unverified_email_is_accepted_when_the_setting_allows(sso, client, settings):
    settings.SSO_REQUIRE_VERIFIED_EMAIL = False
    sso.person("unverified2", groups=["oncall", "unverified"])
    assert sign_in(client, "unverified2").status_code == 302


def test_a_deactivated_person_cannot_sign_in(sso, client):
    sso.person("gone", groups=["oncall"])
    sign_in(client, "gone")
    user = get_user_model().objects.get(email="gone@example.com")
    client.logout()
    user.is_active = False
    user.save()
    refused(sign_in(client, "gone"), "inactive")


def test_a_callback_with_a_state_we_did_not_issue_is_refused(sso, client):
    sso.person("mallory", groups=["ops-managers"])
    start = client.get("/sso/start/")
    back = urlsplit(provider_round_trip(start["Location"], "mallory"))
    forged = back.query.replace("state=", "state=forged")
    response = client.get(f"{back.path}?{forged}")
    assert response.status_code == 400
    assert AuditEvent.objects.latest("at").changes["reason"] == "bad_state"
    assert client.get("/admin/").status_code == 302


def test_a_code_is_used_once(sso, client):
    """Replaying the callback (same code and state) in a second browser session fails."""
    sso.person("replay", groups=["ops-managers"])
    start = client.get("/sso/start/")
    back = urlsplit(provider_round_trip(start["Location"], "replay"))
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    client.logout()
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 400  # the state went with the first session


def test_the_provider_saying_no_is_shown(sso, client):
    response = client.get("/sso/callback/?error=access_denied&error_description=User+cancelled&state=x")
    refused(response, "provider_denied")
    assert b"access_denied" in response.content


def test_a_provider_outside_the_allow_list_is_not_called(sso, client, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    from django.core.cache import cache

    cache.clear()
    response = client.get("/sso/start/")
    assert response.status_code == 503
    assert b"OUTBOUND_ALLOWED_NETWORKS" in response.content


# --- SSO_ONLY ----------------------------------------------------------------------------------


@pytest.fixture
def sso_only(sso, settings):
    settings.SSO_ONLY = True
    settings.SSO_BREAK_GLASS_USERS = ["root"]
    return sso


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "root-password-123")


@pytest.fixture
def other_admin(db):
    return get_user_model().objects.create_superuser("admin2", "admin2@example.com", "admin2-password-123")


def _post_login(client, path, username, password):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR="127.0.0.1")


@pytest.mark.parametrize("path", ["/admin/login/", "/accounts/login/"])
def test_sso_only_refuses_passwords_except_break_glass(sso_only, client, root, other_admin, manager, path):
    manager.set_password("manager-password-123")
    manager.save()
    for username, password in (("admin2", "admin2-password-123"), (manager.username, "manager-password-123")):
        response = _post_login(client, path + "?local=1", username, password)
        assert response.status_code == 200  # the form again: not signed in
        assert "_auth_user_id" not in client.session
        event = AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN_FAILED).latest("at")
        assert event.changes["reason"] == "sso_only"
        assert event.username == username
    response = _post_login(client, path + "?local=1", "root", "root-password-123")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(root.pk)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN, user=root, source="password").exists()


def test_sso_only_login_pages_offer_single_sign_on(sso_only, client):
    page = client.get("/accounts/login/")
    assert b"Sign in with company SSO" in page.content
    assert b'name="password"' not in page.content
    assert b"Break-glass sign-in" in page.content
    admin_page = client.get("/admin/login/")
    assert b"Sign in with company SSO" in admin_page.content
    assert b'name="password"' not in admin_page.content
    assert b'name="password"' in client.get("/admin/login/?local=1").content


def test_sso_only_still_signs_people_in_with_sso(sso_only, client):
    sso_only.person("ssoonly", groups=["ops-managers"])
    assert sign_in(client, "ssoonly").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_without_sso_only_passwords_work(sso, client, manager):
    manager.set_password("manager-password-123")
    manager.save()
    assert _post_login(client, "/admin/login/", manager.username, "manager-password-123").status_code == 302
