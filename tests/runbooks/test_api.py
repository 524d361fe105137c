import pytest

from runbooks.models import Runbook
from tests.factories import ServiceFactory, TeamFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/runbooks/"


@pytest.mark.parametrize("rows", [1, 30])
def test_list_constant_queries(api_as, manager, django_assert_num_queries, rows):
    for _ in range(rows):
        RunbookFactory(services=[ServiceFactory()])
    client = api_as(manager)
    # user permissions, group permissions, COUNT, the page with owner team and reviewers
    # joined, the services prefetch.
    with django_assert_num_queries(5):
        response = client.get(URL)
    assert response.status_code == 200
    assert response.data["count"] == rows


def test_q_searches_with_ranking_and_filters(api_as, responder):
    svc = ServiceFactory(slug="tls-manager")
    team = TeamFactory(slug="edge")
    body = RunbookFactory(title="Edge node swap", body="the certificate cache", owner_team=team)
    title = RunbookFactory(title="Certificate renewal", services=[svc], owner_team=team)
    RunbookFactory(title="Billing backlog")
    client = api_as(responder)
    data = client.get(URL, {"q": "certificate"}).data
    assert [r["slug"] for r in data["results"]] == [title.slug, body.slug]
    assert data["results"][0]["rank"] > data["results"][1]["rank"]
    assert data["results"][0]["service_details"] == [{"id": svc.pk, "slug": "tls-manager", "name": svc.name}]
    assert data["results"][0]["freshness"] == "never-tested"
    assert data["results"][0]["page_url"].endswith(f"/runbooks/{title.slug}/")
    assert [
        r["slug"] for r in client.get(URL, {"q": "certificate", "service": "tls-manager"}).data["results"]
    ] == [title.slug]
    assert client.get(URL, {"team": "edge", "freshness": "stale"}).data["count"] == 0
    assert client.get(URL, {"freshness": "bogus"}).status_code == 400
    assert client.get(URL, {"q": "'&|!(("}).status_code == 200


def test_review_test_history_and_restore(api_as, responder):
    rb = RunbookFactory(title="Good", mitigation="good")
    client = api_as(responder)
    detail = f"{URL}{rb.slug}/"
    assert client.patch(detail, {"title": "Bad", "mitigation": "bad"}).status_code == 200
    response = client.post(f"{detail}review/", {"note": "fine"})
    assert response.status_code == 200
    assert response.data["reviewed_by"] == str(responder)
    assert response.data["review_note"] == "fine"
    assert client.post(f"{detail}test/", {}).status_code == 400
    assert client.post(f"{detail}test/", {"evidence_url": "javascript:alert(1)"}).status_code == 400
    response = client.post(
        f"{detail}test/", {"evidence_note": "drill", "evidence_url": "https://x.example.com/d"}
    )
    assert response.status_code == 200
    assert response.data["freshness"] == "fresh"
    versions = client.get(f"{detail}history/").data
    original = [v for v in versions if v["title"] == "Good"][-1]
    response = client.post(f"{detail}restore/", {"history_id": original["history_id"]})
    assert response.status_code == 200
    assert (response.data["title"], response.data["mitigation"]) == ("Good", "good")
    assert response.data["freshness"] == "fresh"
    assert client.post(f"{detail}restore/", {"history_id": 10**9}).status_code == 400
    assert client.post(f"{detail}restore/", {"history_id": "x"}).status_code == 400
    assert client.post(f"{URL}missing/review/", {}).status_code == 404


def test_create_through_the_api(api_as, responder):
    team, svc = TeamFactory(), ServiceFactory()
    client = api_as(responder)
    response = client.post(
        URL, {"title": "DB failover", "slug": "db-failover", "owner_team": team.pk, "services": [svc.pk]}
    )
    assert response.status_code == 201, response.data
    rb = Runbook.objects.get(slug="db-failover")
    assert list(rb.services.all()) == [svc]
    assert rb.review_interval_days == 90
    assert client.post(URL, {"title": "x", "slug": "db-failover", "owner_team": team.pk}).status_code == 400
    assert (
        client.post(
            URL, {"title": "x", "slug": "y", "owner_team": team.pk, "review_interval_days": 0}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("manager", 200, 200), ("responder", 200, 200), ("superuser", 200, 200),
     ("release_lead", 200, 403), ("support_user", 403, 403), ("outsider", 403, 403)],
)  # fmt: skip
def test_api_permissions_for_every_actor(api_as, request, who, read, write):
    rb = RunbookFactory()
    client = api_as(request.getfixturevalue(who))
    assert client.get(URL).status_code == read
    assert client.get(f"{URL}{rb.slug}/").status_code == read
    assert client.post(f"{URL}{rb.slug}/review/", {}).status_code == write
    assert client.patch(f"{URL}{rb.slug}/", {"title": "t"}).status_code == write
    if write == 403:
        assert Runbook.objects.get(pk=rb.pk).last_reviewed_at is None


def test_anonymous_gets_401(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("raw", ["\u00b2", "\u0661\u0660", "ten", "1.5", "-1"])
def test_history_limit_must_be_a_whole_number(api_as, responder, raw):
    rb = RunbookFactory()
    client = api_as(responder)
    client.raise_request_exception = True
    response = client.get(f"{URL}{rb.slug}/history/", {"limit": raw})
    assert response.status_code == 400, response.content
    assert response.json() == {"limit": ["Give limit as a whole number from 1 to 200."]}


def test_history_limit_is_clamped_to_1_200(api_as, responder):
    rb = RunbookFactory()
    client = api_as(responder)
    assert len(client.get(f"{URL}{rb.slug}/history/", {"limit": "0"}).json()) == 1
    assert len(client.get(f"{URL}{rb.slug}/history/", {"limit": "5000"}).json()) == 1
    assert len(client.get(f"{URL}{rb.slug}/history/").json()) == 1
    assert len(client.get(f"{URL}{rb.slug}/history/", {"limit": ""}).json()) == 1  # empty: the default
