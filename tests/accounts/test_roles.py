"""Role groups and least privilege: admin pages for every named actor."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import roles
from tests.factories import ServiceFactory


@pytest.mark.django_db
def test_role_groups_exist_with_their_permissions():
    groups = {g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.select_related("content_type")}
              for g in Group.objects.prefetch_related("permissions")}  # fmt: skip
    assert set(roles.ALL_ROLES) <= set(groups)
    assert "catalog.change_service" in groups[roles.MANAGERS]
    assert "catalog.view_service" in groups[roles.RESPONDERS]
    assert "catalog.change_service" not in groups[roles.RESPONDERS]
    # support files escalations through their own pages; nothing in the catalog or admin
    assert groups[roles.SUPPORT] == roles.role_permissions()[roles.SUPPORT]
    assert not {p for p in groups[roles.SUPPORT] if p.startswith(("catalog.", "incidents.", "accounts."))}
    for role in roles.ALL_ROLES:
        assert roles.role_permissions()[role] <= groups[role], role


@pytest.mark.django_db
def test_sync_roles_is_additive_and_idempotent():
    support = Group.objects.get(name=roles.SUPPORT)
    before = {g.name: g.permissions.count() for g in Group.objects.all()}
    roles.sync_roles()
    roles.sync_roles()
    assert {g.name: g.permissions.count() for g in Group.objects.all()} == before
    assert support.permissions.count() == len(roles.role_permissions()[roles.SUPPORT])


def _change_url(service):
    return reverse("admin:catalog_service_change", args=[service.pk])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "get_status", "post_status"),
    [
        ("manager", 200, 302),  # may edit (302 = saved, back to the list)
        ("responder", 200, 403),  # may look, not edit
        ("release_lead", 200, 403),
        ("support_user", 403, 403),  # not an admin user at all
        ("outsider", 403, 403),
    ],
)
def test_catalog_admin_change_page_by_role(client, request, actor, get_status, post_status):
    user = request.getfixturevalue(actor)
    service = ServiceFactory(name="Billing API", slug="billing-api")
    client.force_login(user)
    assert client.get(_change_url(service)).status_code == get_status
    data = {
        "name": "Billing API v2", "slug": "billing-api", "owner_team": service.owner_team_id, "tier": "tier-1",
        "description": "", "dependency_links-TOTAL_FORMS": 0, "dependency_links-INITIAL_FORMS": 0,
        "links-TOTAL_FORMS": 0, "links-INITIAL_FORMS": 0,
    }  # fmt: skip
    response = client.post(_change_url(service), data)
    assert response.status_code == post_status
    service.refresh_from_db()
    assert (service.name == "Billing API v2") is (post_status == 302)


@pytest.mark.django_db
def test_support_user_gets_403_page_pointing_home(support_client):
    response = support_client.get(reverse("admin:catalog_team_changelist"))
    assert response.status_code == 403
    assert b"Your account does not use the admin." in response.content
    assert b'href="/"' in response.content


@pytest.mark.django_db
def test_anonymous_admin_goes_to_admin_login(client):
    response = client.get(reverse("admin:catalog_service_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
