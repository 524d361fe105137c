"""Regression tests for the access defects of the "every door gives the same answer" issue
(numbers are the issue's). Each failed on the code before its fix."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from notifications.models import Channel, ContactMethod
from oncall.models import CalendarFeed, Override, Page
from postmortems.models import ActionItem
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.htmlforms import form_data
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level
from tests.probes.factories import ProbeFactory

pytestmark = pytest.mark.django_db

SECRET_HEADER = "Bearer s3cr3t-probe-token-0123456789"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/canary-webhook-secret-42"


def _staff(request):
    return [request.getfixturevalue(name) for name in ("manager", "responder", "release_lead", "superuser")]


# --- 6. probe header values are masked for everyone, everywhere -----------------------------


def test_6_probe_header_values_are_masked_for_every_role_on_every_page(client, request, manager):
    from probes import services

    probe = ProbeFactory(name="checkout health")
    services.save_probe(
        probe=probe,
        actor=manager,
        headers={"Authorization": SECRET_HEADER, "X-Env": "production"},
        interval_seconds=120,
    )
    version = probe.history.order_by("-history_id").first()
    pages = [
        reverse("admin:probes_probe_change", args=[probe.pk]),
        reverse("admin:probes_probe_history", args=[probe.pk]),
        reverse("admin:probes_probe_simple_history", args=[probe.pk, version.history_id]),
        f"/api/v1/probes/{probe.pk}/",
    ]
    for user in _staff(request):
        client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            assert b"s3cr3t-probe-token" not in response.content, (user.username, url)
        # what each person does see: the header's name, its value masked
        page = client.get(pages[0]).content.decode()
        assert "Authorization" in page


# --- 7. history pages apply the same row visibility as the change page ----------------------


def test_7_contact_method_history_is_hidden_from_other_people_and_masked_for_the_owner(client, request):
    owner = UserFactory(username="owner", is_staff=True, roles=[roles.RESPONDERS])
    method = ContactMethod.objects.create(user=owner, channel=Channel.SLACK, label="pager", url=SLACK_URL)
    method.label = "pager channel"
    method.save()
    version = method.history.order_by("history_id").first()
    history = reverse("admin:notifications_contactmethod_history", args=[method.pk])
    one_version = reverse(
        "admin:notifications_contactmethod_simple_history", args=[method.pk, version.history_id]
    )
    for user in (request.getfixturevalue("responder"), request.getfixturevalue("release_lead")):
        client.force_login(user)
        for url in (history, one_version):
            response = client.get(url)
            assert response.status_code in (302, 403, 404), (user.username, url, response.status_code)
            assert b"canary-webhook-secret" not in response.content
    # The owner sees their history, with the URL masked: a webhook URL is a credential.
    client.force_login(owner)
    for url in (history, one_version):
        response = client.get(url)
        assert response.status_code == 200
        assert b"canary-webhook-secret" not in response.content


def test_7_a_history_version_cannot_be_reverted_around_the_services(client, superuser):
    owner = UserFactory(username="owner2", is_staff=True, roles=[roles.RESPONDERS])
    method = ContactMethod.objects.create(user=owner, channel=Channel.EMAIL, label="first")
    first = method.history.order_by("history_id").first()
    method.label = "second"
    method.save()
    client.force_login(superuser)
    url = reverse("admin:notifications_contactmethod_simple_history", args=[method.pk, first.history_id])
    response = client.post(url, {"label": "first", "channel": "email", "user": owner.pk})
    assert response.status_code == 405
    method.refresh_from_db()
    assert method.label == "second"


# --- 8. responders operate probes but do not reconfigure them --------------------------------


def test_8_responders_cannot_change_a_probe_in_the_api_or_the_admin(client, api_as, responder, manager):
    probe = ProbeFactory(name="api health", url="https://example.com/health", interval_seconds=60)
    api = api_as(responder)
    response = api.patch(
        f"/api/v1/probes/{probe.pk}/", {"url": "https://evil.example.com/", "interval_seconds": 10}
    )
    assert response.status_code == 403
    probe.refresh_from_db()
    assert (probe.url, probe.interval_seconds) == ("https://example.com/health", 60)
    client.force_login(responder)
    page = client.get(reverse("admin:probes_probe_change", args=[probe.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only for them
    posted = client.post(
        reverse("admin:probes_probe_change", args=[probe.pk]),
        {"url": "https://evil.example.com/", "_save": "1"},
    )
    assert posted.status_code == 403
    probe.refresh_from_db()
    assert probe.url == "https://example.com/health"
    # ... and still pause and resume it: their job during an incident.
    assert api.post(f"/api/v1/probes/{probe.pk}/pause/").status_code == 200
    assert api.post(f"/api/v1/probes/{probe.pk}/resume/").status_code == 200
    assert api_as(manager).patch(f"/api/v1/probes/{probe.pk}/", {"interval_seconds": 120}).status_code == 200


# --- 9. personal iCal feed tokens: people see only their own ----------------------------------


def test_9_ical_feed_tokens_are_seen_only_by_their_owner(client, api_as, request):
    responder = request.getfixturevalue("responder")
    manager = request.getfixturevalue("manager")
    victim = UserFactory(username="victim", is_staff=True, roles=[roles.RESPONDERS])
    theirs = CalendarFeed.objects.create(user=victim, created_by=victim)
    mine = CalendarFeed.objects.create(user=responder, created_by=responder)
    client.force_login(responder)
    listing = client.get(reverse("admin:oncall_calendarfeed_changelist"))
    assert listing.status_code == 200
    assert theirs.token.encode() not in listing.content
    assert mine.token.encode() in listing.content or str(mine.pk).encode() in listing.content
    assert client.get(reverse("admin:oncall_calendarfeed_change", args=[theirs.pk])).status_code in (302, 404)
    for user in (manager, responder):
        body = api_as(user).get("/api/v1/calendar-feeds/").content
        assert theirs.token.encode() not in body, user.username


def test_9_a_schedule_page_shows_only_the_viewers_own_feed_urls(client, responder, manager):
    schedule = ScheduleFactory(team=TeamFactory())
    feed = CalendarFeed.objects.create(schedule=schedule, created_by=manager)
    client.force_login(responder)
    page = client.get(reverse("admin:oncall_schedule_change", args=[schedule.pk]))
    assert page.status_code == 200
    assert feed.token.encode() not in page.content


# --- 10. reviewer steps, escalations and the API description ---------------------------------


def test_10_a_responder_cannot_request_changes_on_a_postmortem(api_as, responder, manager):
    from postmortems.services import submit_for_review
    from tests.postmortems.factories import postmortem, ready_for_review

    author = UserFactory(username="author", is_staff=True, roles=[roles.RESPONDERS])
    pm = postmortem(actor=author)
    ready_for_review(pm, author)
    submit_for_review(postmortem=pm, actor=author)
    url = f"/api/v1/postmortems/{pm.pk}/request-changes/"
    api = api_as(responder)
    assert api.post(url, {}).status_code == 403  # refused for who they are, not for the empty body
    assert api.post(url, {"reason": "Add the timeline"}).status_code == 403
    pm.refresh_from_db()
    assert pm.status == pm.Status.IN_REVIEW
    assert api_as(responder).post(f"/api/v1/postmortems/{pm.pk}/approve/", {}).status_code == 403
    assert api_as(manager).post(url, {"reason": "Add the timeline"}).status_code == 200


def test_10_release_leads_do_not_read_support_escalations(client, api_as, release_lead, support_user):
    from tests.escalations.factories import file

    service = ServiceFactory()
    escalation = file(support_user, service=service, customer="Acme Corp", contact="cto@acme.example")
    client.force_login(release_lead)
    assert client.get(reverse("admin:escalations_escalation_changelist")).status_code == 403
    assert client.get(reverse("admin:escalations_escalation_change", args=[escalation.pk])).status_code == 403
    listing = api_as(release_lead).get("/api/v1/escalations/")
    assert b"acme.example" not in listing.content
    assert api_as(release_lead).get(f"/api/v1/escalations/{escalation.pk}/").status_code == 404


@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_10_people_with_no_role_do_not_read_the_api_description(
    client, outsider, support_user, responder, url
):
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    for user in (support_user, responder):
        client.force_login(user)
        assert client.get(url).status_code == 200


# --- 11. what over-restriction blocked ---------------------------------------------------------


def test_11_release_leads_open_an_action_item_read_only(client, release_lead, manager):
    from tests.postmortems.factories import item, postmortem

    pm = postmortem(actor=manager)
    action = item(pm, manager, owner=manager)
    client.force_login(release_lead)
    response = client.get(reverse("admin:postmortems_actionitem_change", args=[action.pk]))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert client.get(reverse("admin:postmortems_postmortem_change", args=[pm.pk])).status_code == 200
    assert ActionItem.objects.get(pk=action.pk).title == action.title


def test_11_a_responder_removes_their_own_override_but_not_someone_elses(client, api_as, responder):
    team = TeamFactory()
    team.members.add(responder)
    schedule = ScheduleFactory(team=team)
    colleague = UserFactory(username="colleague", is_staff=True, roles=[roles.RESPONDERS])
    start = timezone.now() + dt.timedelta(days=1)
    mine = Override.objects.create(
        schedule=schedule,
        user=responder,
        start=start,
        end=start + dt.timedelta(hours=15),
        created_by=responder,
    )
    theirs = Override.objects.create(
        schedule=schedule,
        user=colleague,
        start=start + dt.timedelta(days=2),
        end=start + dt.timedelta(days=2, hours=15),
        created_by=colleague,
    )
    client.force_login(responder)
    delete = reverse("admin:oncall_override_delete", args=[mine.pk])
    assert client.get(delete).status_code == 200
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Override.objects.filter(pk=mine.pk).exists()
    assert client.get(reverse("admin:oncall_override_delete", args=[theirs.pk])).status_code == 403
    assert api_as(responder).delete(f"/api/v1/schedule-overrides/{theirs.pk}/").status_code == 403
    assert Override.objects.filter(pk=theirs.pk).exists()
    again = Override.objects.create(
        schedule=schedule,
        user=responder,
        start=start,
        end=start + dt.timedelta(hours=15),
        created_by=responder,
    )
    assert api_as(responder).delete(f"/api/v1/schedule-overrides/{again.pk}/").status_code == 204


def test_11_release_leads_create_their_own_ical_feed(client, api_as, release_lead):
    response = api_as(release_lead).post("/api/v1/calendar-feeds/", {"user": release_lead.pk})
    assert response.status_code == 201, response.content
    client.force_login(release_lead)
    add = client.get(reverse("admin:oncall_calendarfeed_add"))
    assert add.status_code == 200
    data = form_data(add.content.decode(), "calendarfeed_form")
    data["_save"] = ["Save"]
    assert client.post(reverse("admin:oncall_calendarfeed_add"), data).status_code == 302
    assert CalendarFeed.objects.filter(user=release_lead).count() == 2


def test_11_who_may_page_on_call_by_hand(client, api_as, request):
    """Managers and responders page on-call directly; release leads, support and people with
    no role do not (support files an escalation, which pages by the rules)."""
    team = TeamFactory()
    oncaller = UserFactory(username="oncaller", is_staff=True, roles=[roles.RESPONDERS])
    schedule = ScheduleFactory(team=team)
    LayerFactory(schedule=schedule, people=[oncaller])
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, schedules=[schedule])
    service = ServiceFactory(owner_team=team)
    body = {"title": "Checkout is returning 500s", "service": service.pk, "dedup_key": ""}
    for name, allowed in (
        ("manager", True), ("responder", True), ("superuser", True),
        ("release_lead", False), ("support_user", False), ("outsider", False),
    ):  # fmt: skip
        user = request.getfixturevalue(name)
        response = api_as(user).post("/api/v1/pages/", {**body, "dedup_key": f"by-hand-{name}"})
        assert (response.status_code == 201) is allowed, (name, response.status_code, response.content)
        if user.is_staff:
            client.force_login(user)
            add = client.get(reverse("admin:oncall_page_add"))
            assert (add.status_code == 200) is allowed, (name, add.status_code)
    assert Page.objects.filter(dedup_key__startswith="by-hand-").count() == 3
