"""SCIM 2.0 provisioning with payloads from the RFCs' examples:
RFC 7643 section 8 (https://datatracker.ietf.org/doc/html/rfc7643#section-8: minimal and full
User, Group) and RFC 7644 section 3.5.2 (PATCH operations), 3.4.2.2 (filtering) and 3.12
(errors: 400 with scimType)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from accounts import roles
from identity import services
from identity.models import AuditEvent, DirectoryGroup, ManagedAccount

pytestmark = pytest.mark.django_db
SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

# RFC 7643 section 8.1
MINIMAL_USER = {
    "schemas": [USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "bjensen@example.com",
}

# RFC 7643 section 8.2 (the id, meta and $ref of the example are the server's to set)
FULL_USER = {
    "schemas": [USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III",
    },
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "primary": True,
        }
    ],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
    "userType": "Employee",
    "title": "Tour Guide",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "password": "t1meMa$heen",
}


@pytest.fixture
def scim(client):
    _token, key = services.create_scim_token(name="Okta production")

    def call(method: str, path: str, body=None, *, key_override=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key_override or key}"}
        data = json.dumps(body) if body is not None else None
        return getattr(client, method.lower())(f"/scim/v2/{path}", data=data, content_type=SCIM, **headers)

    return call


def test_create_the_full_rfc_user(scim):
    response = scim("POST", "Users", FULL_USER)
    assert response.status_code == 201, response.content
    body = response.json()
    user = get_user_model().objects.get(pk=int(body["id"]))
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "bjensen@example.com",
        "bjensen@example.com",
        "Barbara",
        "Jensen",
    )
    assert not user.has_usable_password()  # the RFC example's password is not kept: SSO signs in
    assert user.is_active
    assert body["externalId"] == "701984"
    assert response["Location"].endswith(f"/scim/v2/Users/{user.pk}")
    assert ManagedAccount.objects.get(user=user).scim_managed
    created = AuditEvent.objects.get(kind=AuditEvent.Kind.USER_CREATED)
    assert created.source == AuditEvent.Source.SCIM
    assert created.changes["email"] == [None, "bjensen@example.com"]


def test_minimal_user_get_and_filter(scim):
    user_id = scim("POST", "Users", MINIMAL_USER).json()["id"]
    got = scim("GET", f"Users/{user_id}").json()
    assert got["userName"] == "bjensen@example.com"
    assert got["active"] is True
    listed = scim("GET", 'Users?filter=userName eq "bjensen@example.com"').json()
    assert listed["totalResults"] == 1
    assert listed["Resources"][0]["id"] == user_id
    assert scim("GET", 'Users?filter=userName eq "nobody"').json()["totalResults"] == 0


def test_replace_user_with_put(scim):
    user_id = scim("POST", "Users", FULL_USER).json()["id"]
    replaced = {
        **FULL_USER,
        "name": {"givenName": "Babs", "familyName": "Jensen"},
        "emails": [{"value": "babs@example.com", "primary": True}],
    }
    assert scim("PUT", f"Users/{user_id}", replaced).status_code == 200
    user = get_user_model().objects.get(pk=user_id)
    assert (user.first_name, user.email) == ("Babs", "babs@example.com")
    updated = AuditEvent.objects.get(kind=AuditEvent.Kind.USER_UPDATED)
    assert updated.changes["email"] == ["bjensen@example.com", "babs@example.com"]


def test_patch_replace_rfc_7644_example(scim):
    # RFC 7644 section 3.5.2.3, the replace example without a path
    user_id = scim("POST", "Users", FULL_USER).json()["id"]
    patch = {
        "schemas": [PATCH],
        "Operations": [
            {
                "op": "replace",
                "value": {"emails": [{"value": "bjensen@example.com", "type": "work"}], "nickName": "Babs"},
            }
        ],
    }
    response = scim("PATCH", f"Users/{user_id}", patch)
    assert response.status_code == 200, response.content


def test_patch_deactivate_with_entra_id_strings(scim):
    user_id = scim("POST", "Users", MINIMAL_USER).json()["id"]
    patch = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert scim("PATCH", f"Users/{user_id}", patch).json()["active"] is False
    assert not get_user_model().objects.get(pk=user_id).is_active
    patch["Operations"][0]["value"] = "True"
    assert scim("PATCH", f"Users/{user_id}", patch).json()["active"] is True


def test_delete_deactivates_and_keeps_the_account(scim):
    user_id = scim("POST", "Users", MINIMAL_USER).json()["id"]
    assert scim("DELETE", f"Users/{user_id}").status_code == 204
    user = get_user_model().objects.get(pk=user_id)
    assert not user.is_active
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DEACTIVATED, user=user, source="scim").exists()


def test_groups_map_to_roles(scim, settings):
    settings.SSO_ROLE_MAP = "ops-managers:Engineering managers,oncall:Responders"
    babs = scim("POST", "Users", FULL_USER).json()["id"]
    other = scim("POST", "Users", {**MINIMAL_USER, "userName": "mpepper@example.com"}).json()["id"]
    # RFC 7643 section 8.4, with our member ids
    group = {
        "schemas": [GROUP],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "oncall",
        "members": [{"value": babs, "display": "Babs Jensen"}, {"value": other, "display": "Mandy Pepper"}],
    }
    response = scim("POST", "Groups", group)
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]
    User = get_user_model()
    assert set(User.objects.get(pk=babs).groups.values_list("name", flat=True)) == {roles.RESPONDERS}
    # RFC 7644 section 3.5.2.2: remove one member by filter
    remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{other}"]'}]}
    assert scim("PATCH", f"Groups/{group_id}", remove).status_code == 200
    assert not User.objects.get(pk=other).groups.exists()
    # rename the group: the members' roles follow the map
    rename = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "displayName", "value": "ops-managers"}],
    }
    assert scim("PATCH", f"Groups/{group_id}", rename).json()["displayName"] == "ops-managers"
    assert set(User.objects.get(pk=babs).groups.values_list("name", flat=True)) == {roles.MANAGERS}
    # RFC 7644 section 3.5.2.1: add members
    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": other}]}]}
    assert len(scim("PATCH", f"Groups/{group_id}", add).json()["members"]) == 2
    assert scim("DELETE", f"Groups/{group_id}").status_code == 204
    assert not User.objects.get(pk=babs).groups.exists()
    assert not DirectoryGroup.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ROLES_CHANGED, source="scim").count() >= 4


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"userName": "no-schemas"}, "invalidSyntax"),
        ({"schemas": [USER]}, "invalidValue"),  # userName missing
        ({"schemas": [USER], "userName": 42}, "invalidSyntax"),
        ({"schemas": [USER], "userName": "x", "active": "maybe"}, "invalidSyntax"),
        ({"schemas": [USER], "userName": "x", "emails": "x@example.com"}, "invalidSyntax"),
        ({"schemas": [USER], "userName": "x", "emails": [{"value": "not-an-address"}]}, "invalidValue"),
        ({"schemas": [USER], "userName": "x", "name": "Barbara"}, "invalidSyntax"),
        ({"schemas": [USER], "userName": "x" * 151}, "invalidValue"),
        ([1, 2, 3], "invalidSyntax"),
    ],
)
def test_payloads_that_do_not_fit_the_schema_get_scim_errors(scim, body, scim_type):
    response = scim("POST", "Users", body)
    assert response.status_code == 400
    error = response.json()
    assert error["schemas"] == [ERROR]
    assert error["scimType"] == scim_type
    assert error["detail"]
    assert not get_user_model().objects.filter(username="x").exists()


def test_bad_patches_and_bodies(scim, client):
    user_id = scim("POST", "Users", MINIMAL_USER).json()["id"]
    bad = [
        (
            {"schemas": [PATCH], "Operations": [{"op": "explode", "path": "active", "value": True}]},
            "invalidSyntax",
        ),
        (
            {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "shoeSize", "value": 9}]},
            "invalidPath",
        ),
        ({"schemas": [PATCH], "Operations": [{"op": "remove"}]}, "noTarget"),
        ({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "userName"}]}, "mutability"),
    ]
    for body, scim_type in bad:
        response = scim("PATCH", f"Users/{user_id}", body)
        assert response.status_code == 400, body
        assert response.json()["scimType"] == scim_type
    raw = client.post("/scim/v2/Users", data="{not json", content_type=SCIM, HTTP_AUTHORIZATION="Bearer x")
    assert raw.status_code == 401  # no valid token: refused before the body is read


def test_unparsable_json_is_invalid_syntax(scim, client):
    _token, key = services.create_scim_token(name="second")
    raw = client.post(
        "/scim/v2/Users", data="{not json", content_type=SCIM, HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert raw.status_code == 400
    assert raw.json()["scimType"] == "invalidSyntax"


def test_unknown_ids_are_404_and_duplicates_409(scim):
    assert scim("GET", "Users/not-a-number").status_code == 404
    assert scim("GET", "Users/999999").status_code == 404
    assert scim("POST", "Users", MINIMAL_USER).status_code == 201
    duplicate = scim("POST", "Users", MINIMAL_USER)
    assert duplicate.status_code == 409
    assert duplicate.json()["scimType"] == "uniqueness"


def test_tokens(scim, client):
    assert scim("GET", "Users", key_override="scim_wrong").status_code == 401
    assert client.get("/scim/v2/Users").status_code == 401
    refused = AuditEvent.objects.filter(kind=AuditEvent.Kind.SCIM_REFUSED)
    assert refused.count() == 2
    token, key = services.create_scim_token(name="rotating")
    assert token.digest != key
    assert key not in token.digest
    assert scim("GET", "Users", key_override=key).status_code == 200
    services.revoke_scim_token(token=token)
    assert scim("GET", "Users", key_override=key).status_code == 401


def test_service_provider_config_and_schemas(scim):
    assert scim("GET", "ServiceProviderConfig").status_code == 200
    assert scim("GET", "ResourceTypes").status_code == 200
    assert scim("GET", "Schemas").status_code == 200
