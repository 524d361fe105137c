import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from runbooks import services
from runbooks.models import Runbook
from tests.factories import ServiceFactory, TeamFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:runbooks_runbook_changelist")


@pytest.mark.parametrize("rows", [1, 40])
def test_changelist_constant_queries(manager_client, django_assert_num_queries, rows):
    for i in range(rows):
        RunbookFactory(services=[ServiceFactory(), ServiceFactory()], title=f"Runbook {i:03}")
    # session, user, user permissions, group permissions, team filter choices, service filter
    # choices, COUNT (no full count: show_full_result_count is off), the page rows with the
    # owner team joined, and the services prefetch.
    with django_assert_num_queries(9):
        response = manager_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b"op-badge-yellow") >= rows  # "never tested" badges


def test_changelist_filters_and_full_text_search(manager_client):
    team = TeamFactory(name="Edge")
    service = ServiceFactory(name="DNS")
    dns = RunbookFactory(title="DNS failover", owner_team=team, services=[service])
    other = RunbookFactory(title="Billing backlog", body="nothing about dns here")
    services.record_test(runbook=other, actor=_superuser(), evidence_note="x")

    def titles(params):
        response = manager_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {r.title for r in response.context["cl"].result_list}

    assert titles({"owner_team__id__exact": team.pk}) == {dns.title}
    assert titles({"service": service.pk}) == {dns.title}
    assert titles({"service": "\u00b2"}) == {dns.title, other.title}  # isdigit() but not int(): ignored
    assert titles({"freshness": "never-tested"}) == {dns.title}
    assert titles({"freshness": "fresh"}) == {other.title}
    assert titles({"freshness": "stale"}) == set()
    assert titles({"q": "dns"}) == {dns.title, other.title}
    assert titles({"q": "failover"}) == {dns.title}
    assert manager_client.get(CHANGELIST, {"service": "abc"}).status_code == 200


def _superuser():
    from tests.factories import UserFactory

    return UserFactory(username="root2", is_staff=True, is_superuser=True)


def test_mark_reviewed_action(client, responder):
    a, b = RunbookFactory(), RunbookFactory()
    client.force_login(responder)
    response = client.post(
        CHANGELIST, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: [a.pk, b.pk]}, follow=True
    )
    assert "Marked 2 runbook(s) reviewed" in response.content.decode()
    assert set(Runbook.objects.values_list("reviewed_by", flat=True)) == {responder.pk}


def test_record_test_action_asks_for_evidence_then_records_it(client, responder):
    rb = RunbookFactory()
    client.force_login(responder)
    first = client.post(CHANGELIST, {"action": "record_test", ACTION_CHECKBOX_NAME: [rb.pk]})
    assert first.status_code == 200
    assert "Record a runbook test" in first.content.decode()
    missing = client.post(CHANGELIST, {"action": "record_test", "apply": "1", ACTION_CHECKBOX_NAME: [rb.pk]})
    assert "Give evidence" in missing.content.decode()
    assert Runbook.objects.get(pk=rb.pk).last_tested_at is None
    done = client.post(
        CHANGELIST,
        {"action": "record_test", "apply": "1", ACTION_CHECKBOX_NAME: [rb.pk],
         "evidence_url": "https://wiki.example.com/gd-7", "evidence_note": "game day 7"},
        follow=True,
    )  # fmt: skip
    assert "Recorded a test of 1 runbook(s)" in done.content.decode()
    rb.refresh_from_db()
    assert rb.tested_by == responder
    assert rb.test_evidence_url == "https://wiki.example.com/gd-7"


def test_release_lead_has_no_write_actions_and_cannot_change(client, release_lead):
    rb = RunbookFactory()
    client.force_login(release_lead)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "mark_reviewed" not in response.content.decode()
    change = reverse("admin:runbooks_runbook_change", args=[rb.pk])
    assert client.post(change, {"title": "hijacked"}).status_code == 403
    assert (
        client.post(CHANGELIST, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: [rb.pk]}).status_code == 200
    )
    assert Runbook.objects.get(pk=rb.pk).last_reviewed_at is None


def test_support_gets_403_in_the_admin(client, support_user):
    rb = RunbookFactory()
    client.force_login(support_user)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:runbooks_runbook_change", args=[rb.pk])).status_code == 403


def test_responder_adds_a_runbook_in_the_admin_with_a_safe_preview(client, responder):
    team, svc = TeamFactory(), ServiceFactory()
    client.force_login(responder)
    response = client.post(
        reverse("admin:runbooks_runbook_add"),
        {"title": "Renew TLS", "slug": "renew-tls", "owner_team": team.pk, "services": [svc.pk],
         "summary": "", "scenarios": "expiry", "diagnostic_steps": "1. **openssl**", "mitigation": "",
         "rollback": "", "escalation_notes": "", "body": "<script>alert(1)</script>[x](javascript:alert(1))",
         "review_interval_days": 60},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    rb = Runbook.objects.get(slug="renew-tls")
    assert list(rb.services.all()) == [svc]
    assert rb.history.first().history_user == responder
    page = client.get(reverse("admin:runbooks_runbook_change", args=[rb.pk])).content.decode()
    assert "<strong>openssl</strong>" in page
    assert "<script>alert(1)</script>" not in page.split('name="body"')[0]
    assert 'href="javascript' not in page


def test_history_revert_restores_through_the_service(client, responder):
    rb = RunbookFactory(title="Original title", mitigation="good steps")
    version = rb.history.first()
    services.save_runbook(actor=responder, runbook=rb, title="Bad edit", mitigation="bad steps")
    client.force_login(responder)
    url = reverse("admin:runbooks_runbook_simple_history", args=[rb.pk, version.history_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {}, follow=True)
    assert "Restored the version" in response.content.decode()
    rb.refresh_from_db()
    assert (rb.title, rb.mitigation) == ("Original title", "good steps")
    assert rb.history.first().history_change_reason.startswith("Restored version")


def test_service_page_lists_runbooks_or_flags_their_absence(manager_client):
    covered, bare = ServiceFactory(name="TLS manager"), ServiceFactory(name="Invoicing")
    RunbookFactory(title="TLS certificate renewal", services=[covered])
    page = manager_client.get(reverse("admin:catalog_service_change", args=[covered.pk])).content.decode()
    assert "TLS certificate renewal" in page
    assert "no-runbook-flag" not in page
    page = manager_client.get(reverse("admin:catalog_service_change", args=[bare.pk])).content.decode()
    assert 'id="no-runbook-flag"' in page
    assert f"{reverse('admin:runbooks_runbook_add')}?services={bare.pk}" in page
