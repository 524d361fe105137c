"""Admin releases list and review page; API list/detail/item updates; constant query counts."""

from datetime import timedelta

import pytest
from django.urls import reverse

from readiness import services
from readiness.models import Release
from tests.readiness.factories import complete_manual_items, make_release, ready_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(release_lead):
    return ready_world(lead=release_lead)


def releases(world, n, *, first=0):
    out = []
    for i in range(first, first + n):
        r = make_release(world, version=f"1.{i}", start_in=timedelta(hours=i - 1))
        services.start_review(release=r, actor=world.lead)
        out.append(r)
    return out


def test_changelist_constant_queries_and_columns(client, world, release_lead, django_assert_max_num_queries):
    client.force_login(release_lead)
    url = reverse("admin:readiness_release_changelist")
    releases(world, 1)
    with django_assert_max_num_queries(12) as one:
        r = client.get(url)
    assert r.status_code == 200
    releases(world, 6, first=1)
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        r = client.get(url)
    # session, user, groups/permissions, count(s), the one annotated page query, filters
    assert len(many.captured_queries) == len(one.captured_queries)
    body = r.content.decode()
    assert "In review" in body
    assert "%" in body
    assert "not asked" in body


def test_awaiting_my_signoff_filter(client, world, release_lead):
    a, b = releases(world, 2)
    complete_manual_items(b, release_lead)
    services.sign(release=b, actor=release_lead)
    client.force_login(release_lead)
    r = client.get(reverse("admin:readiness_release_changelist") + "?awaiting=me")
    assert list(r.context["cl"].result_list) == [a]


def test_review_page_renders_and_posts_through_services(client, world, release_lead):
    (r,) = releases(world, 1)
    client.force_login(release_lead)
    url = reverse("admin:readiness_release_review", args=[r.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"Sign off" in page.content
    assert b"Gate: <span" in page.content
    item = r.review.items.get(key="support-comms")
    resp = client.post(
        url, {"action": "item", "item": item.pk, "state": "waived", "waiver_reason": ""}, follow=True
    )
    assert b"A waiver needs a reason." in resp.content  # a message, not a 500
    client.post(
        url, {"action": "item", "item": item.pk, "state": "waived", "waiver_reason": "no customer impact"}
    )
    item.refresh_from_db()
    assert item.state == "waived"
    assert item.waived_by == release_lead
    resp = client.post(url, {"action": "bogus"})
    assert resp.status_code == 403
    resp = client.post(url, {"action": "item", "item": "abc", "state": "pass"})
    assert resp.status_code == 404
    resp = client.post(url, {"action": "item", "item": "\u00b2", "state": "pass"})  # isdigit(), not int()
    assert resp.status_code == 404


@pytest.mark.parametrize(
    ("who", "status"), [("support_user", 403), ("outsider", 403), ("responder", 200), ("manager", 200)]
)
def test_review_page_permissions(client, world, who, status, request):
    (r,) = releases(world, 1)
    user = request.getfixturevalue(who)
    client.force_login(user)
    resp = client.get(reverse("admin:readiness_release_review", args=[r.pk]))
    assert resp.status_code == status
    if who == "responder":
        assert b'value="sign"' not in resp.content
        assert b'name="waiver_reason"' not in resp.content
        assert (
            client.post(
                reverse("admin:readiness_release_review", args=[r.pk]), {"action": "sign"}
            ).status_code
            == 302
        )
        assert Release.objects.get(pk=r.pk).status == "in_review"


def test_admin_add_release_validates_through_the_service(client, world, release_lead, responder):
    client.force_login(release_lead)
    data = {
        "name": "Search", "version": "1.0", "services": [world.service.pk], "release_lead": responder.pk,
        "window_start_0": "2026-12-02", "window_start_1": "10:00", "window_end_0": "2026-12-02",
        "window_end_1": "12:00", "risk": "low",
    }  # fmt: skip
    r = client.post(reverse("admin:readiness_release_add"), data)
    assert r.status_code == 200
    assert b"must be a member of Release leads" in r.content
    data["release_lead"] = release_lead.pk
    r = client.post(reverse("admin:readiness_release_add"), data)
    assert r.status_code == 302
    created = Release.objects.get(name="Search")
    assert list(created.services.all()) == [world.service]
    assert created.created_by == release_lead


def test_api_list_constant_queries(api_as, world, release_lead, django_assert_num_queries):
    api = api_as(release_lead)
    releases(world, 1)
    # count, releases page (+ review join), services, reviews' items, reviews' signatures
    with django_assert_num_queries(5):
        assert api.get("/api/v1/releases/").status_code == 200
    releases(world, 5, first=1)
    with django_assert_num_queries(5):
        body = api.get("/api/v1/releases/").json()
    assert body["count"] == 6
    assert body["results"][0]["readiness_percent"] is not None


def test_api_create_start_items_sign(api_as, world, release_lead):
    api = api_as(release_lead)
    r = api.post(
        "/api/v1/releases/",
        {
            "name": "Billing",
            "version": "7.0",
            "services": [world.service.pk],
            "release_lead": release_lead.pk,
            "window_start": "2026-12-02T10:00:00Z",
            "window_end": "2026-12-02T09:00:00Z",
            "risk": "low",
        },
    )
    assert r.status_code == 400
    assert "window_end" in r.json()
    r = api.post(
        "/api/v1/releases/",
        {
            "name": "Billing",
            "version": "7.0",
            "services": [world.service.pk],
            "release_lead": release_lead.pk,
            "window_start": "2026-12-02T10:00:00Z",
            "window_end": "2026-12-02T12:00:00Z",
            "risk": "low",
            "rollback_plan": "redeploy",
            "rollback_tested_at": "2026-11-20T10:00:00Z",
            "rollback_evidence_url": "https://docs.example.com/rb",
        },
    )
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert api.post(f"/api/v1/releases/{pk}/start-review/").status_code == 200
    assert api.post(f"/api/v1/releases/{pk}/start-review/").status_code == 409
    detail = api.get(f"/api/v1/releases/{pk}/").json()
    assert len(detail["items"]) == 10
    assert detail["signatures"] == []
    assert api.post(f"/api/v1/releases/{pk}/sign/").status_code == 409
    for it in detail["items"]:
        if not it["check_key"]:
            resp = api.post(
                f"/api/v1/release-items/{it['id']}/update-state/",
                {"state": "pass", "evidence_url": "https://docs.example.com/x"},
            )
            assert resp.status_code == 200, resp.content
    bad = api.post(f"/api/v1/release-items/{detail['items'][0]['id']}/update-state/", {"state": "waived"})
    assert bad.status_code == 400
    assert bad.json() == {"waiver_reason": ["A waiver needs a reason."]}
    assert api.post(f"/api/v1/releases/{pk}/evaluate/").status_code == 200
    r = api.post(f"/api/v1/releases/{pk}/sign/")
    assert r.status_code == 200
    assert r.json()["status"] == "approved"
    assert r.json()["signatures"][0]["signer"] == release_lead.username


def test_closed_release_change_page_is_read_only(client, world, release_lead):
    (r,) = releases(world, 1)
    services.cancel(release=r, actor=release_lead)
    client.force_login(release_lead)
    url = reverse("admin:readiness_release_change", args=[r.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="version"' not in page.content
    assert client.post(url, {"name": "Renamed"}).status_code == 302
    r.refresh_from_db()
    assert r.name == "Billing"
