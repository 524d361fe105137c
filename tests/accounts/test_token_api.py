"""/api/v1/api-tokens/: own tokens only, the key in the creation answer only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import create_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/api-tokens/"


def test_create_returns_the_key_once(api_as, api_client, responder):
    response = api_as(responder).post(URL, {"name": "deploy script", "expires_at": None})
    assert response.status_code == 201, response.content
    body = response.json()
    key = body["token"]
    assert key.startswith("ops_")
    assert body["name"] == "deploy script"
    assert body["user"] == responder.pk
    assert body["status"] == "active"
    assert body["expires_at"] is None
    assert body["key_hint"] == key[:12] + "…"
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    for url in (URL, f"{URL}{token.pk}/"):
        text = api_as(responder).get(url).content.decode()
        assert key not in text
        assert token.digest not in text
        assert token.token_key not in text
        assert "token" not in (api_as(responder).get(url).json().get("results", [{}])[0]), url
    # and the key works as a machine's credential
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get(URL).json()["results"][0]["name"] == "deploy script"


def test_a_token_rotates_itself(api_client, release_lead):
    _, old = create_token(user=release_lead, actor=release_lead, name="pipeline")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    expires_at = (timezone.now() + timedelta(days=30)).isoformat()
    new = api_client.post(URL, {"name": "pipeline 2", "expires_at": expires_at}).json()
    old_id = api_client.get(URL, {"status": "active"}).json()["results"][-1]["id"]
    assert api_client.post(f"{URL}{old_id}/revoke/").json()["status"] == "revoked"
    assert api_client.get(URL).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new['token']}")
    assert [t["status"] for t in api_client.get(URL).json()["results"]] == ["active", "revoked"]


def test_another_persons_tokens_are_invisible_to_a_manager(api_as, manager, responder):
    token, _ = create_token(user=responder, actor=responder, name="responder laptop")
    create_token(user=manager, actor=manager, name="mine")
    client = api_as(manager)
    assert [t["name"] for t in client.get(URL).json()["results"]] == ["mine"]
    assert client.get(f"{URL}{token.pk}/").status_code == 404
    assert client.post(f"{URL}{token.pk}/revoke/").status_code == 404


def test_superuser_sees_all_and_creates_for_a_machine_account(api_as, superuser, responder):
    create_token(user=responder, actor=responder, name="responder laptop")
    bot = UserFactory(username="ci-bot")
    client = api_as(superuser)
    created = client.post(URL, {"name": "ci", "user": bot.pk})
    assert created.status_code == 201
    assert created.json()["user"] == bot.pk
    assert {t["name"] for t in client.get(URL).json()["results"]} == {"responder laptop", "ci"}


@pytest.mark.parametrize(
    ("actor", "data", "status", "field"),
    [
        ("manager", {"name": "x", "user": "responder"}, 403, "detail"),
        ("manager", {"name": ""}, 400, "name"),
        ("manager", {"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"),
        ("manager", {"name": "x", "expires_at": "soon"}, 400, "expires_at"),
        ("support_user", {"name": "x"}, 403, "detail"),
        ("outsider", {"name": "x"}, 403, "detail"),
    ],
)
def test_refusals_are_json_and_create_nothing(request, api_as, responder, actor, data, status, field):
    if data.get("user") == "responder":
        data = {**data, "user": responder.pk}
    response = api_as(request.getfixturevalue(actor)).post(URL, data)
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not ApiToken.objects.exists()


def test_revoking_twice_is_a_conflict(api_as, responder):
    token, _ = create_token(user=responder, actor=responder, name="x")
    client = api_as(responder)
    assert client.post(f"{URL}{token.pk}/revoke/").status_code == 200
    response = client.post(f"{URL}{token.pk}/revoke/")
    assert response.status_code == 409
    assert response.json() == {"detail": "This token was already revoked."}


def test_no_editing_or_deleting(api_as, responder):
    token, _ = create_token(user=responder, actor=responder, name="x")
    client = api_as(responder)
    # no change/delete permission exists for anyone, and no such method on the endpoint
    assert client.patch(f"{URL}{token.pk}/", {"name": "y"}).status_code in (403, 405)
    assert client.delete(f"{URL}{token.pk}/").status_code in (403, 405)
    token.refresh_from_db()
    assert token.name == "x"


def test_schema_documents_the_endpoints(api_as, manager):
    schema = api_as(manager).get("/api/v1/schema/?format=json").json()
    assert "/api/v1/api-tokens/" in schema["paths"]
    assert "/api/v1/api-tokens/{id}/revoke/" in schema["paths"]
    created = schema["paths"]["/api/v1/api-tokens/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/ApiTokenCreated")
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("type") == "http" or s.get("in") == "header" for s in schemes.values()), schemes


@pytest.mark.parametrize("url", ["/login/", "/logout/", "/logoutall/"])
def test_knox_own_views_are_not_mounted(api_as, manager, url):
    # knox ships views that mint tokens for any signed-in session; tokens come from the service only
    assert api_as(manager).post(url).status_code == 404
    assert not ApiToken.objects.exists()
