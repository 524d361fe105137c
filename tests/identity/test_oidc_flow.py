"""Single sign-on against a real OpenID Connect provider (see conftest): just-in-time accounts,
group -> role mapping re-synced at every sign-in, key rotation, the audit trail."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts import roles
from identity.models import AuditEvent, ExternalIdentity
from tests.identity.conftest import sign_in

pytestmark = pytest.mark.django_db


def roles_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_creates_the_person_with_the_role_of_their_group(sso, client):
    sso.person("ada", groups=["ops-managers"], first="Ada", last="Lovelace")
    response = sign_in(client, "ada")
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    assert roles_of(user) == {roles.MANAGERS}
    assert user.is_staff
    assert not user.has_usable_password()
    assert ExternalIdentity.objects.get(user=user).issuer == sso.url + "/o"
    assert client.get("/admin/").status_code == 200  # signed in, staff
    kinds = list(AuditEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert set(kinds) >= {
        AuditEvent.Kind.USER_CREATED,
        AuditEvent.Kind.ROLES_CHANGED,
        AuditEvent.Kind.SIGN_IN,
    }


def test_roles_follow_the_group_at_the_next_sign_in(sso, client):
    sso.person("bob", groups=["oncall"])
    sign_in(client, "bob")
    user = get_user_model().objects.get(email="bob@example.com")
    assert roles_of(user) == {roles.RESPONDERS}
    client.logout()
    sso.person("bob", groups=["ops-managers"])
    sign_in(client, "bob")
    user.refresh_from_db()
    assert roles_of(user) == {roles.MANAGERS}
    change = AuditEvent.objects.filter(user=user, kind=AuditEvent.Kind.ROLES_CHANGED).first()
    assert change.changes["added"] == [roles.MANAGERS]
    assert change.changes["removed"] == [roles.RESPONDERS]


def test_hand_given_roles_stay_only_with_keep_manual_roles(sso, client, settings):
    from django.contrib.auth.models import Group

    sso.person("cy", groups=["oncall"])
    sign_in(client, "cy")
    user = get_user_model().objects.get(email="cy@example.com")
    user.groups.add(Group.objects.get(name=roles.RELEASE_LEADS))  # by hand
    client.logout()
    settings.SSO_KEEP_MANUAL_ROLES = True
    sign_in(client, "cy")
    assert roles_of(user) == {roles.RESPONDERS, roles.RELEASE_LEADS}
    client.logout()
    settings.SSO_KEEP_MANUAL_ROLES = False
    sign_in(client, "cy")
    assert roles_of(user) == {roles.RESPONDERS}


def test_subject_survives_an_email_change(sso, client):
    sso.person("dee", email="dee@example.com", groups=["oncall"])
    sign_in(client, "dee")
    user = get_user_model().objects.get(email="dee@example.com")
    client.logout()
    sso.person("dee", email="dee.new@example.com", groups=["oncall"])
    sign_in(client, "dee")
    user.refresh_from_db()
    assert user.email == "dee.new@example.com"
    assert get_user_model().objects.filter(email__startswith="dee").count() == 1
    updated = AuditEvent.objects.get(user=user, kind=AuditEvent.Kind.USER_UPDATED)
    assert updated.changes["email"] == ["dee@example.com", "dee.new@example.com"]


def test_first_sign_in_links_an_existing_local_account_by_email(sso, client, responder):
    responder.email = "existing@example.com"
    responder.save()
    sso.person("existing", email="existing@example.com", groups=["oncall"])
    sign_in(client, "existing")
    assert ExternalIdentity.objects.get().user == responder


def test_key_rotation_at_the_provider(sso, client):
    sso.person("eve", groups=["oncall"])
    assert sign_in(client, "eve").status_code == 302  # JWKS fetched and cached
    client.logout()
    assert sso.rotate()["active_keys"] == 2
    # signed with the new key: an unknown key id makes the portal fetch the JWKS again
    response = sign_in(client, "eve")
    assert response.status_code == 302, response.content[:400]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN, username__startswith="eve").count() == 2


def test_next_is_kept_through_the_round_trip(sso, client):
    sso.person("fay", groups=["ops-managers"])
    response = sign_in(client, "fay", next_url="/admin/oncall/schedule/")
    assert response["Location"] == "/admin/oncall/schedule/"
