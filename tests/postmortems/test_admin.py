from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from incidents.models import Incident
from postmortems import services
from postmortems.models import REVIEW_CHECKLIST_KEYS, ActionItem, Postmortem
from tests.factories import TeamFactory, UserFactory
from tests.postmortems import factories as f

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_close_without_published_postmortem_is_refused_in_admin(client, responder, manager, service):
    incident = f.resolved_incident(actor=responder, service=service, level=2)
    client.force_login(responder)
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "close"])
    response = client.post(url, follow=True)
    assert response.status_code == 200
    assert any("published postmortem is required" in m for m in _messages(response))
    assert Incident.objects.get(pk=incident.pk).status == "resolved"

    f.published(f.postmortem(actor=responder, incident=incident), responder, manager)
    response = client.post(url, follow=True)
    assert any("is closed" in m for m in _messages(response))
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_start_postmortem_from_admin_add_page_is_prefilled(client, responder, service):
    incident = f.resolved_incident(actor=responder, service=service, level=2, title="Webhooks delayed")
    client.force_login(responder)
    add = client.get(reverse("admin:postmortems_postmortem_add"))
    assert add.status_code == 200
    assert f"{incident.reference} SEV-2: Webhooks delayed".encode() in add.content
    response = client.post(reverse("admin:postmortems_postmortem_add"), {"incident": incident.pk})
    pm = Postmortem.objects.get(incident=incident)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:postmortems_postmortem_change", args=[pm.pk])
    assert pm.owner == responder
    assert "Declared" in pm.timeline
    page = client.get(response["Location"])
    assert b"Submit for review" in page.content
    assert b"Declared SEV-2" in page.content  # the prefilled timeline is on the page


def _change_data(pm, **overrides):
    data = {
        "owner": pm.owner_id, "reviewer": pm.reviewer_id or "", "due_at_0": pm.due_at.strftime("%Y-%m-%d"),
        "due_at_1": pm.due_at.strftime("%H:%M:%S"),
        "action_items-TOTAL_FORMS": 0, "action_items-INITIAL_FORMS": 0,
        "action_items-MIN_NUM_FORMS": 0, "action_items-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for name in services.SECTION_FIELDS:
        data[name] = getattr(pm, name)
    data.update(overrides)
    return data


def test_edit_sections_and_add_action_items_inline(client, responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    client.force_login(responder)
    due = (timezone.now() + timedelta(days=10)).date().isoformat()
    data = _change_data(
        pm,
        root_cause="Retry storm exhausted the pool.",
        **{
            "action_items-TOTAL_FORMS": 2,
            "action_items-0-title": "Alert on saturation", "action_items-0-owner": manager.pk,
            "action_items-0-kind": "detect", "action_items-0-priority": "p1", "action_items-0-due_date": due,
            "action_items-0-status": "open",
            "action_items-1-title": "Backoff", "action_items-1-owner": responder.pk,
            "action_items-1-kind": "prevent", "action_items-1-priority": "p2", "action_items-1-due_date": due,
            "action_items-1-status": "wont_do", "action_items-1-wont_do_reason": "",
        },
    )  # fmt: skip
    url = reverse("admin:postmortems_postmortem_change", args=[pm.pk])
    response = client.post(url, data)
    assert response.status_code == 200  # won't do without a reason: a form error, nothing saved
    assert b"Say why the item will not be done." in response.content
    assert not ActionItem.objects.exists()
    data["action_items-1-wont_do_reason"] = "Covered by the pool alert."
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    items = {i.title: i for i in ActionItem.objects.all()}
    assert items["Alert on saturation"].owner == manager
    assert items["Alert on saturation"].team == pm.team
    assert items["Backoff"].status == "wont_do"
    assert items["Backoff"].completed_at is not None
    assert Postmortem.objects.get(pk=pm.pk).root_cause == "Retry storm exhausted the pool."


def test_review_buttons_approve_and_publish(client, responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    f.ready_for_review(pm, responder)
    client.force_login(responder)
    client.post(reverse("admin:postmortems_postmortem_review", args=[pm.pk, "submit"]))
    assert Postmortem.objects.get(pk=pm.pk).status == "in_review"
    # The author sees no approve button and cannot approve by posting.
    page = client.get(reverse("admin:postmortems_postmortem_change", args=[pm.pk]))
    assert b"pm-approve-publish" not in page.content
    assert b"authors cannot approve" in page.content
    response = client.post(
        reverse("admin:postmortems_postmortem_review", args=[pm.pk, "approve"]),
        {"checklist": list(REVIEW_CHECKLIST_KEYS)},
        follow=True,
    )
    assert any("cannot approve their own" in m for m in _messages(response))
    client.force_login(manager)
    page = client.get(reverse("admin:postmortems_postmortem_change", args=[pm.pk]))
    for key in REVIEW_CHECKLIST_KEYS:
        assert f'value="{key}"'.encode() in page.content
    response = client.post(
        reverse("admin:postmortems_postmortem_review", args=[pm.pk, "approve_publish"]),
        {"checklist": list(REVIEW_CHECKLIST_KEYS[:3])},
        follow=True,
    )
    assert any("checklist" in m for m in _messages(response))
    assert Postmortem.objects.get(pk=pm.pk).status == "in_review"
    client.post(
        reverse("admin:postmortems_postmortem_review", args=[pm.pk, "approve_publish"]),
        {"checklist": list(REVIEW_CHECKLIST_KEYS)},
    )
    pm = Postmortem.objects.get(pk=pm.pk)
    assert pm.status == "published"
    assert pm.published_by == manager
    assert pm.approved_by == manager


def test_review_views_need_post(client, responder, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    client.force_login(responder)
    assert (
        client.get(reverse("admin:postmortems_postmortem_review", args=[pm.pk, "submit"])).status_code == 403
    )
    assert (
        client.post(reverse("admin:postmortems_postmortem_review", args=[pm.pk, "nonsense"])).status_code
        == 403
    )


def test_markdown_download(client, responder, release_lead, support_user, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    url = reverse("admin:postmortems_postmortem_markdown", args=[pm.pk])
    client.force_login(release_lead)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert f'attachment; filename="{pm.incident.reference}-postmortem.md"' == response["Content-Disposition"]
    assert b"## Timeline" in response.content
    client.force_login(support_user)
    assert client.get(url).status_code in (302, 403)


# --- Remediation changelist ------------------------------------------------------------------
def _many_items(n, actor, owners, teams):
    today = timezone.now().date()
    pm = f.postmortem(actor=actor, incident=f.resolved_incident(actor=actor, team=teams[0]))
    items = []
    for i in range(n):
        items.append(
            ActionItem(
                postmortem=pm, title=f"item {i}", owner=owners[i % len(owners)], team=teams[i % len(teams)],
                kind=ActionItem.Kind.values[i % 4], due_date=today + timedelta(days=(i % 7) - 3), created_by=actor,
            )
        )  # fmt: skip
    ActionItem.objects.bulk_create(items)
    return pm


@pytest.mark.parametrize("rows", [1, 100])
def test_remediation_changelist_constant_queries(client, manager, responder, django_assert_num_queries, rows):
    teams = [TeamFactory(manager=manager), TeamFactory()]
    _many_items(rows, responder, [responder, manager], teams)
    client.force_login(manager)
    url = reverse("admin:postmortems_actionitem_changelist")
    # session, user, the user's groups (role check), permissions via groups, COUNT filtered,
    # COUNT total, then the page: items with owner, team, postmortem, incident and severity joined.
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.count(b"<tr") >= rows + 1
    if rows == 100:
        assert b"op-badge-red" in response.content  # overdue badge


def test_remediation_filters(client, manager, responder, manager2):
    mine_team = TeamFactory(name="Mine", manager=manager2)
    mine_team.members.add(manager)
    other = TeamFactory(name="Other")
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, team=other))
    today = services.local_today()
    monday = today - timedelta(days=today.weekday())
    f.item(pm, responder, owner=manager, title="mine overdue", due_date=today - timedelta(days=2), team=other)
    f.item(
        pm,
        responder,
        owner=responder,
        title="team this week",
        due_date=monday + timedelta(days=6),
        team=mine_team,
    )
    f.item(
        pm,
        responder,
        owner=responder,
        title="later",
        due_date=today + timedelta(days=30),
        team=other,
        kind="process",
    )
    done = f.item(
        pm, responder, owner=manager, title="old done", due_date=today - timedelta(days=9), team=other
    )
    services.set_action_item_status(item=done, actor=responder, status="done")
    client.force_login(manager)
    url = reverse("admin:postmortems_actionitem_changelist")

    def titles(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {i.title for i in response.context["cl"].result_list}

    assert titles(whose="mine") == {"mine overdue", "old done"}
    assert titles(whose="team") == {"team this week"}
    assert titles(due="overdue") == {"mine overdue"}
    assert titles(due="week") == ({"team this week"} if monday + timedelta(days=6) >= today else set())
    assert titles(status__exact="done") == {"old done"}
    assert titles(kind__exact="process") == {"later"}


def test_remediation_bulk_done_and_no_delete(client, manager, responder, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    a, b = f.item(pm, responder, title="a"), f.item(pm, responder, title="b")
    client.force_login(manager)
    response = client.post(
        reverse("admin:postmortems_actionitem_changelist"),
        {"action": "mark_done", "_selected_action": [a.pk, b.pk]},
    )
    assert response.status_code == 302
    assert set(ActionItem.objects.values_list("status", flat=True)) == {"done"}
    assert client.post(reverse("admin:postmortems_actionitem_delete", args=[a.pk])).status_code == 403


def test_item_change_page_wont_do_needs_reason(client, manager, responder, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    item = f.item(pm, responder)
    client.force_login(manager)
    url = reverse("admin:postmortems_actionitem_change", args=[item.pk])
    data = {
        "title": item.title, "description": "", "owner": item.owner_id, "team": item.team_id or "",
        "kind": item.kind, "priority": item.priority, "due_date": item.due_date.isoformat(),
        "status": "wont_do", "wont_do_reason": "", "tracker_url": "",
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 200
    assert b"Say why" in response.content
    data["wont_do_reason"] = "The service is being retired."
    assert client.post(url, data).status_code == 302
    assert ActionItem.objects.get(pk=item.pk).status == "wont_do"


def test_postmortem_changelist_constant_queries(client, manager, responder, django_assert_num_queries):
    for _ in range(3):
        pm = f.postmortem(actor=responder)
        f.item(pm, responder)
    client.force_login(manager)
    # session, user, groups, permissions, team filter choices, COUNT filtered, COUNT total, rows
    with django_assert_num_queries(8):
        response = client.get(reverse("admin:postmortems_postmortem_changelist"))
    assert response.status_code == 200


def test_archive_page(client, responder, manager):
    pm = f.postmortem(actor=responder)
    services.update_postmortem(postmortem=pm, actor=responder, root_cause="A thundering herd on the cache.")
    client.force_login(UserFactory(username="lead", is_staff=True, roles=[roles.RELEASE_LEADS]))
    response = client.get(reverse("admin:postmortems_archive"), {"q": "thundering"})
    assert response.status_code == 200
    assert pm.incident.reference.encode() in response.content
    assert b"Nothing matches" in client.get(reverse("admin:postmortems_archive"), {"q": "zebra"}).content


def test_postmortem_changelist_filters_and_search(client, manager, responder):
    late = f.postmortem(actor=responder)
    Postmortem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    services.update_postmortem(postmortem=late, actor=responder, root_cause="Thundering herd on the cache.")
    other = f.postmortem(actor=responder)
    client.force_login(manager)
    url = reverse("admin:postmortems_postmortem_changelist")

    def pks(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {p.pk for p in response.context["cl"].result_list}

    assert pks(due="overdue") == {late.pk}
    assert pks(due="unpublished") == {late.pk, other.pk}
    assert pks(q="thundering") == {late.pk}
    assert b"overdue" in client.get(url).content
