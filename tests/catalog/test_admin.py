import pytest
from django.urls import reverse

from catalog.models import Service
from tests.factories import ServiceDependencyFactory, ServiceFactory, ServiceLinkFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _make_services(n):
    for _ in range(n):
        dep = ServiceDependencyFactory()
        ServiceLinkFactory(service=dep.service)


def _changelist_queries(client, url, django_assert_num_queries, expected):
    # session, user, user permissions, group permissions, the team filter's choices,
    # COUNT twice (filtered and full result count), then the page rows with the team
    # joined and both count columns as subqueries in the same query.
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("rows", [1, 50])
def test_service_changelist_constant_queries(manager_client, django_assert_num_queries, rows):
    _make_services(rows)
    response = _changelist_queries(
        manager_client, reverse("admin:catalog_service_changelist"), django_assert_num_queries, 8
    )
    assert response.content.count(b'class="op-badge') >= rows


@pytest.mark.parametrize("rows", [1, 50])
def test_team_changelist_constant_queries(manager_client, django_assert_num_queries, rows):
    for _ in range(rows):
        ServiceFactory(owner_team=TeamFactory())
    _changelist_queries(
        manager_client, reverse("admin:catalog_team_changelist"), django_assert_num_queries, 8
    )


def test_manager_adds_service_with_dependency_in_admin(manager_client):
    team = TeamFactory(name="Payments")
    db_ = ServiceFactory(name="Postgres", slug="postgres")
    response = manager_client.post(
        reverse("admin:catalog_service_add"),
        {
            "name": "Billing API", "slug": "billing-api", "owner_team": team.pk, "tier": "tier-1", "description": "x",
            "dependency_links-TOTAL_FORMS": 1, "dependency_links-INITIAL_FORMS": 0,
            "dependency_links-0-depends_on": db_.pk, "dependency_links-0-note": "all state",
            "links-TOTAL_FORMS": 1, "links-INITIAL_FORMS": 0,
            "links-0-kind": "dashboard", "links-0-title": "Grafana", "links-0-url": "https://grafana.example.com/d/b",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content
    svc = Service.objects.get(slug="billing-api")
    assert list(svc.dependencies.all()) == [db_]
    assert svc.links.get().title == "Grafana"
    page = manager_client.get(reverse("admin:catalog_service_change", args=[db_.pk]))
    assert b"1 service(s)" in page.content
    assert b"Billing API" in page.content


def test_admin_refuses_a_dependency_cycle_with_a_form_error(manager_client):
    a = ServiceFactory(name="Alpha", slug="alpha")
    b = ServiceFactory(name="Beta", slug="beta")
    ServiceDependencyFactory(service=b, depends_on=a)
    response = manager_client.post(
        reverse("admin:catalog_service_change", args=[a.pk]),
        {
            "name": "Alpha", "slug": "alpha", "owner_team": a.owner_team_id, "tier": "tier-2", "description": "",
            "dependency_links-TOTAL_FORMS": 1, "dependency_links-INITIAL_FORMS": 0,
            "dependency_links-0-depends_on": b.pk, "links-TOTAL_FORMS": 0, "links-INITIAL_FORMS": 0,
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert b"Beta already depends on Alpha" in response.content
    assert not a.dependencies.exists()


def test_history_view_shows_who_changed_what(manager_client, manager):
    svc = ServiceFactory()
    manager_client.post(
        reverse("admin:catalog_service_change", args=[svc.pk]),
        {"name": svc.name, "slug": svc.slug, "owner_team": svc.owner_team_id, "tier": "tier-1", "description": "",
         "dependency_links-TOTAL_FORMS": 0, "dependency_links-INITIAL_FORMS": 0,
         "links-TOTAL_FORMS": 0, "links-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert svc.history.latest().history_user == manager
    page = manager_client.get(reverse("admin:catalog_service_history", args=[svc.pk]))
    assert page.status_code == 200
    assert manager.get_full_name().encode() in page.content
