"""Errors under /api/ are JSON objects in DRF's shape, whatever the path or the method."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIRequestFactory

from opsportal.api.exceptions import exception_handler
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/teams/0.5/",  # used to be Django's HTML 404 page (the router excluded dots)
        "/api/v1/teams/abc/",
        "/api/v1/teams/-1/",
        "/api/v1/teams/1/nope/",
        "/api/v1/incidents/null,null/",
        "/api/v1/pages/%0A%C3%A9%5B,/resolve/",  # a newline in the path (a fuzzer found it)
        "/api/v1/no-such-resource/",
        "/api/v2/",
        "/api/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_unknown_api_paths_are_json_404(api_as, superuser, path, method):
    response = getattr(api_as(superuser), method)(path)
    assert response.status_code == 404, (method, path)
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_unknown_api_path_is_json_even_with_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/teams/0.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_path_without_slash_still_redirects(api_as, superuser):
    team = TeamFactory()
    response = api_as(superuser).get(f"/api/v1/teams/{team.pk}")
    assert response.status_code == 301
    assert response["Location"] == f"/api/v1/teams/{team.pk}/"


def test_integer_ids_still_resolve(api_as, superuser):
    team = TeamFactory()
    assert api_as(superuser).get(f"/api/v1/teams/{team.pk}/").status_code == 200
    assert api_as(superuser).get("/api/v1/teams/99999999999999999999999/").status_code == 404


def test_created_and_updated_team_carries_service_count(api_as, superuser):
    api = api_as(superuser)
    created = api.post("/api/v1/teams/", {"name": "Payments", "slug": "payments"})
    assert created.status_code == 201, created.content
    assert created.json()["service_count"] == 0
    ServiceFactory(owner_team_id=created.json()["id"])
    updated = api.patch(f"/api/v1/teams/{created.json()['id']}/", {"description": "Money"})
    assert updated.status_code == 200
    assert updated.json()["service_count"] == 1


def test_nul_character_in_search_is_a_detail_object(api_as, superuser):
    response = api_as(superuser).get("/api/v1/teams/?search=a%00b")
    assert response.status_code == 400
    assert response.json() == {"detail": "Null characters are not allowed."}


def test_handler_shapes():
    context = {"view": None, "request": APIRequestFactory().get("/")}
    assert exception_handler(ValidationError("Bad."), context).data == {"detail": "Bad."}
    assert exception_handler(ValidationError({"name": ["Bad."]}), context).data == {"name": ["Bad."]}
    response = exception_handler(DjangoValidationError(["One.", "Two."]), context)
    assert (response.status_code, response.data) == (400, {"detail": "One. Two."})
    response = exception_handler(DjangoValidationError({"end": ["Before start."]}), context)
    assert (response.status_code, response.data) == (400, {"end": ["Before start."]})
