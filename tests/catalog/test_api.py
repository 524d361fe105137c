import pytest
from django.core.management import call_command

from accounts.services import create_token
from catalog.models import Service, Team
from tests.factories import (
    ServiceDependencyFactory,
    ServiceFactory,
    ServiceLinkFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 50])
def test_service_list_constant_queries(api_as, manager, django_assert_num_queries, rows):
    for _ in range(rows):
        ServiceLinkFactory(service=ServiceDependencyFactory().service)
    client = api_as(manager)
    # user groups + permissions (permission check), COUNT, page rows joined to owner team,
    # prefetch dependencies, prefetch links
    with django_assert_num_queries(6):
        response = client.get("/api/v1/services/?page_size=200")
    assert response.status_code == 200
    assert response.json()["count"] == Service.objects.count()


@pytest.mark.parametrize("rows", [1, 50])
def test_team_list_constant_queries(api_as, manager, django_assert_num_queries, rows):
    for _ in range(rows):
        team = TeamFactory()
        team.members.add(UserFactory())
        ServiceFactory(owner_team=team)
    client = api_as(manager)
    # user groups + permissions, COUNT, page rows (manager joined, service count subquery),
    # prefetch members
    with django_assert_num_queries(5):
        response = client.get("/api/v1/teams/?page_size=200")
    assert response.status_code == 200
    assert response.json()["count"] == rows


def test_manager_creates_service_with_dependencies(api_as, manager):
    team = TeamFactory()
    db_ = ServiceFactory()
    response = api_as(manager).post(
        "/api/v1/services/",
        {
            "name": "Billing",
            "slug": "billing",
            "owner_team": team.pk,
            "tier": "tier-1",
            "dependencies": [db_.pk],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["dependencies"] == [db_.pk]
    assert response.json()["owner_team_name"] == team.name


def test_cycle_is_a_400_field_error(api_as, manager):
    a, b = ServiceFactory(name="A"), ServiceFactory(name="B")
    ServiceDependencyFactory(service=b, depends_on=a)
    response = api_as(manager).patch(f"/api/v1/services/{a.pk}/", {"dependencies": [b.pk]})
    assert response.status_code == 400
    assert "cycle" in response.json()["dependencies"][0]


def test_bad_input_is_400_not_500(api_as, manager):
    client = api_as(manager)
    assert client.post("/api/v1/services/", {"name": "x"}).status_code == 400
    assert (
        client.post("/api/v1/services/", {"name": "x", "slug": "bad slug", "owner_team": 999999}).status_code
        == 400
    )
    assert client.post("/api/v1/services/", "not json", content_type="application/json").status_code == 400
    assert client.get("/api/v1/services/?owner_team=abc").status_code == 400


def test_filters(api_as, manager):
    team = TeamFactory(slug="payments")
    ServiceFactory(owner_team=team, tier="tier-1")
    ServiceFactory(tier="tier-3")
    client = api_as(manager)
    assert client.get("/api/v1/services/?team=payments").json()["count"] == 1
    assert client.get("/api/v1/services/?tier=tier-3").json()["count"] == 1


@pytest.mark.parametrize(
    ("actor", "read", "write"),
    [
        ("manager", 200, 201),
        ("responder", 200, 403),
        ("release_lead", 200, 403),
        ("support_user", 403, 403),
        ("outsider", 403, 403),
    ],
)
def test_permissions_by_role(api_as, request, actor, read, write):
    user = request.getfixturevalue(actor)
    team = TeamFactory()
    client = api_as(user)
    assert client.get("/api/v1/services/").status_code == read
    assert client.get("/api/v1/teams/").status_code == read
    response = client.post("/api/v1/services/", {"name": "N", "slug": "n", "owner_team": team.pk})
    assert response.status_code == write


def test_anonymous_is_refused(api_client):
    assert api_client.get("/api/v1/services/").status_code in (401, 403)


def test_token_authentication_for_machines(api_client, manager):
    _token, key = create_token(user=manager, actor=manager, name="catalog sync job")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/teams/").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api_client.get("/api/v1/teams/").status_code == 401


def test_team_members_update(api_as, manager):
    team = TeamFactory()
    alice = UserFactory()
    response = api_as(manager).patch(f"/api/v1/teams/{team.pk}/", {"members": [alice.pk]})
    assert response.status_code == 200
    assert list(Team.objects.get(pk=team.pk).members.all()) == [alice]


def test_openapi_schema_validates_and_lists_catalog(api_as, manager, tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/services/", "/api/v1/teams/", "/api/v1/service-links/"):
        assert path in text
    response = api_as(manager).get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_docs_page_works_offline(manager_client):
    response = manager_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_schema_needs_login(api_client):
    assert api_client.get("/api/v1/schema/").status_code in (401, 403)
