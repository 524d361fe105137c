"""An incident and its on-call page settle each other, through every door.

incident acknowledged (admin action, change-page button, API; identify/mitigate acknowledge
first) -> its triggered pages acknowledged (``via="incident"``), so escalation stops;
mitigated -> pages acknowledged if still triggered; resolved -> pages resolved;
page acknowledged -> incident acknowledged; page resolved by a person -> incident resolved.
Reopening a paging incident pages again. No ping-pong, no double timeline entries, no
Conflict from one side because the other already settled it.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents import services
from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall import services as oncall_services
from oncall import tasks as oncall_tasks
from oncall.models import Page, PageEvent, ServicePolicy
from opsportal.errors import Conflict
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare
from tests.oncall.factories import PolicyFactory, level

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday
CHANGELIST = "/admin/incidents/incident/"


@pytest.fixture
def oncall_person(db):
    from accounts import roles

    return UserFactory(username="oncall1", is_staff=True, roles=[roles.RESPONDERS])


@pytest.fixture
def lead(db):
    from accounts import roles

    return UserFactory(username="lead", is_staff=True, roles=[roles.RESPONDERS])


@pytest.fixture
def svc(oncall_person, lead):
    """Level 1: the on-call responder (5 min); level 2: the team lead."""
    team = TeamFactory(manager=UserFactory())
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, delay=5, users=[oncall_person])
    level(policy, 2, delay=10, users=[lead])
    return ServiceFactory(owner_team=team)


def _page(incident) -> Page:
    return Page.objects.get(subject_id=str(incident.pk), subject_type__model="incident", status__in=Page.OPEN)


def _pages(incident):
    return Page.objects.filter(subject_id=str(incident.pk), subject_type__model="incident")


def _level2_mails() -> int:
    return Notification.objects.filter(kind="page", subject__startswith="[PAGE L2]").count()


def _acks(incident) -> int:
    return incident.timeline.filter(kind=TimelineEvent.Kind.ACKNOWLEDGED).count()


def _declare_sev1(manager, svc, cb):
    with time_machine.travel(T0, tick=False), cb(execute=True):
        incident = declare(actor=manager, level=1, service=svc)
    page = _page(incident)
    assert page.status == Page.Status.TRIGGERED
    assert Notification.objects.filter(kind="page", subject__startswith="[PAGE L1]").count() == 1
    return incident, page


def _acknowledge(door, incident, actor, client, api_as):
    if door == "service":
        services.acknowledge(incident=incident, actor=actor)
    elif door == "api":
        r = api_as(actor).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
        assert r.status_code == 200, r.data
    elif door == "admin_action":
        client.force_login(actor)
        r = client.post(CHANGELIST, {"action": "acknowledge_selected", "_selected_action": [incident.pk]})
        assert r.status_code == 302
    else:  # the Acknowledge button on the incident's change page
        client.force_login(actor)
        url = reverse("admin:incidents_incident_transition", args=[incident.pk, "acknowledge"])
        assert client.post(url).status_code == 302


# --- the reported scenario ----------------------------------------------------------------


@pytest.mark.parametrize("door", ["api", "admin_action", "admin_button", "service"])
def test_acknowledging_the_incident_stops_its_page_no_level_2(
    door, manager, responder, svc, client, api_as, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    level2_token = page.step_token  # the step that would notify level 2 at T0 + 5 min
    with (
        time_machine.travel(T0 + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _acknowledge(door, incident, responder, client, api_as)
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED
    assert (page.acknowledged_by, page.acknowledged_via) == (responder, "incident")
    assert page.next_step_at is None
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert oncall_tasks.escalate_page(page.pk, level2_token) is False
        assert oncall_services.advance_page(page_id=page.pk, step_token=level2_token) is False
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert oncall_services.audit_pages() == []
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED
    assert _level2_mails() == 0
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    assert _acks(incident) == 1  # the page's acknowledgement signal did not add a second one
    assert page.events.filter(kind=PageEvent.Kind.ACKNOWLEDGED).count() == 1


def test_without_acknowledgement_level_2_is_paged(manager, svc, django_capture_on_commit_callbacks):
    """The control: the same page, nobody acknowledges, level 2 hears at T0 + 5 min."""
    _, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert oncall_tasks.escalate_page(page.pk, page.step_token) is True
    assert _level2_mails() == 1


# --- incident -> page ---------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["identify", "mitigate"])
def test_identifying_or_mitigating_acknowledges_incident_and_page(
    verb, manager, responder, svc, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        getattr(services, verb)(incident=incident, actor=responder)
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        "acknowledged",
        responder,
        "incident",
    )
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    assert _acks(incident) == 1


def test_resolving_the_incident_resolves_the_page_once(
    manager, responder, svc, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(incident=incident, actor=responder, note="Rolled back")
    page.refresh_from_db()
    assert (page.status, page.resolved_by) == (Page.Status.RESOLVED, responder)
    assert page.events.filter(kind=PageEvent.Kind.RESOLVED).count() == 1
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    # the page's own resolution did not come back as a second resolve (or a Conflict)
    assert incident.timeline.filter(kind=TimelineEvent.Kind.STATUS_CHANGED).count() == 1


def test_mitigating_acknowledges_a_page_that_retriggered_on_its_ack_timeout(
    manager, responder, oncall_person, svc, django_capture_on_commit_callbacks
):
    """Existing page behaviour: acknowledged but unresolved past the service's ack timeout, the
    page re-notifies. The incident stays acknowledged (its first acknowledgement is a fact);
    re-acknowledging the page changes nothing on the incident; mitigating acknowledges it."""
    ServicePolicy.objects.create(
        service=svc, policy=svc.owner_team.escalation_policies.get(), ack_timeout_minutes=30
    )
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with (
        time_machine.travel(T0 + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.acknowledge(incident=incident, actor=responder)
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        assert oncall_services.advance_page(page_id=page.pk, step_token=page.step_token) is True
    page.refresh_from_db()
    assert (page.status, page.round) == (Page.Status.TRIGGERED, 1)
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    # the on-call person acknowledges the re-notification: the incident is not touched again
    with (
        time_machine.travel(T0 + timedelta(minutes=32), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        oncall_services.acknowledge_page(page=page, user=oncall_person, via="link")
    incident.refresh_from_db()
    assert (incident.acknowledged_by, incident.commander) == (responder, responder)
    assert _acks(incident) == 1
    # it re-triggers once more; mitigating the incident acknowledges it
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=62), tick=False):
        assert oncall_services.advance_page(page_id=page.pk, step_token=page.step_token) is True
        with django_capture_on_commit_callbacks(execute=True):
            services.mitigate(incident=incident, actor=responder)
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        "acknowledged",
        responder,
        "incident",
    )
    assert _acks(incident) == 1


def test_acknowledging_an_acknowledged_incident_whose_page_retriggered_acknowledges_the_page(
    manager, responder, responder2, svc, django_capture_on_commit_callbacks
):
    ServicePolicy.objects.create(
        service=svc, policy=svc.owner_team.escalation_policies.get(), ack_timeout_minutes=30
    )
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.acknowledge(incident=incident, actor=responder)
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        oncall_services.advance_page(page_id=page.pk, step_token=page.step_token)
        with django_capture_on_commit_callbacks(execute=True):
            services.acknowledge(incident=incident, actor=responder2)  # no Conflict: the page needed it
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by) == (Page.Status.ACKNOWLEDGED, responder2)
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder  # the first acknowledgement stays
    assert _acks(incident) == 1
    # nothing left to acknowledge: the usual answer
    with pytest.raises(Conflict, match="already acknowledged by"):
        services.acknowledge(incident=incident, actor=responder2)


# --- page -> incident ---------------------------------------------------------------------


def test_acknowledging_the_page_acknowledges_the_incident_then_its_door_answers_200(
    manager, responder, oncall_person, svc, api_as, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=page, user=oncall_person, via="link")
    incident.refresh_from_db()
    assert (incident.acknowledged_by, incident.commander) == (oncall_person, oncall_person)
    # the incident commander presses Acknowledge a moment later: already settled, not an error
    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(responder).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert r.status_code == 200, r.data
    assert r.data["acknowledged_by"] == oncall_person.pk
    assert _acks(incident) == 1
    page.refresh_from_db()
    assert page.acknowledged_by == oncall_person


def test_page_acknowledged_through_the_incident_answers_the_page_door_with_200(
    manager, responder, oncall_person, svc, api_as, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge(incident=incident, actor=responder)
    r = api_as(oncall_person).post(f"/api/v1/pages/{page.pk}/acknowledge/")
    assert r.status_code == 200, r.data
    assert r.data["acknowledged_by"] == responder.pk
    assert page.events.filter(kind=PageEvent.Kind.ACKNOWLEDGED).count() == 1
    # two people on the page's own door still race as before
    other = UserFactory()
    other_page = oncall_services.open_page(title="x", summary="", url="", service=svc, dedup_key="other")
    oncall_services.acknowledge_page(page=other_page, user=oncall_person, via="link")
    with pytest.raises(Conflict, match="Already acknowledged by"):
        oncall_services.acknowledge_page(page=other_page, user=other, via="api")


@pytest.mark.parametrize("door", ["api", "admin"])
def test_resolving_the_page_resolves_the_incident(
    door, manager, oncall_person, svc, client, api_as, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        if door == "api":
            r = api_as(oncall_person).post(
                f"/api/v1/pages/{page.pk}/resolve/", {"reason": "deploy rolled back"}
            )
            assert r.status_code == 200, r.data
        else:
            from accounts import roles

            pager = UserFactory(username="pager", is_staff=True, is_superuser=True, roles=[roles.RESPONDERS])
            client.force_login(pager)
            r = client.post(
                "/admin/oncall/page/", {"action": "resolve", "_selected_action": [page.pk]}, follow=True
            )
            assert "resolved." in r.content.decode()
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.resolved_by is not None
    event = incident.timeline.get(kind=TimelineEvent.Kind.STATUS_CHANGED)
    assert "on-call page" in event.text
    page.refresh_from_db()
    assert page.events.filter(kind=PageEvent.Kind.RESOLVED).count() == 1
    assert _acks(incident) == 1  # resolving acknowledged it first, once


def test_automation_resolving_the_page_leaves_the_incident_open(
    manager, svc, django_capture_on_commit_callbacks
):
    """A probe that recovers resolves the page it shares with the incident (user None); the
    incident stays open for people to resolve."""
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.resolve_page(page=page, reason="Probe checkout recovered")
    incident.refresh_from_db()
    assert incident.is_open


def test_page_resolved_by_someone_who_cannot_act_on_incidents_is_noted(
    manager, svc, django_capture_on_commit_callbacks
):
    incident, page = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    stranger = UserFactory(username="stranger")
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.resolve_page(page=page, user=stranger, reason="done")
    incident.refresh_from_db()
    assert incident.is_open
    assert incident.timeline.filter(kind=TimelineEvent.Kind.PAGE, text__contains="cannot act").exists()


# --- reopen -------------------------------------------------------------------------------


def test_reopening_a_paging_incident_pages_again(
    manager, responder, oncall_person, svc, django_capture_on_commit_callbacks
):
    incident, first = _declare_sev1(manager, svc, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(incident=incident, actor=responder)
        services.reopen(incident=incident, actor=responder, reason="errors are back")
    first.refresh_from_db()
    assert first.status == Page.Status.RESOLVED
    again = _page(incident)
    assert again.pk != first.pk
    assert again.status == Page.Status.TRIGGERED
    assert incident.timeline.filter(kind=TimelineEvent.Kind.PAGE, text__contains="reopened").exists()
    # acknowledging the new page keeps the incident's first acknowledgement and adds none
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=again, user=oncall_person, via="link")
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    assert _acks(incident) == 1


def test_reopening_a_non_paging_incident_pages_nobody(manager, responder, svc):
    incident = declare(actor=manager, level=3, service=svc)
    services.resolve(incident=incident, actor=responder)
    services.reopen(incident=incident, actor=responder)
    assert not _pages(incident).exists()


# --- a race on PostgreSQL -----------------------------------------------------------------


def _committed_setup():
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity

    ensure_severities(Severity)  # a transactional test starts from a flushed database
    responder = UserFactory(username="ic", is_staff=True, roles=[roles.RESPONDERS])
    oncall_person = UserFactory(username="oncall1", is_staff=True, roles=[roles.RESPONDERS])
    lead = UserFactory(username="lead", is_staff=True, roles=[roles.RESPONDERS])
    team = TeamFactory(manager=UserFactory())
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, delay=5, users=[oncall_person])
    level(policy, 2, delay=10, users=[lead])
    return responder, oncall_person, ServiceFactory(owner_team=team)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("head_start", "attempt"), [(h, a) for h in ("none", "page", "incident") for a in (1, 2)]
)
def test_incident_and_page_acknowledged_at_the_same_moment(head_start, attempt):
    """Released together by a barrier; ``head_start`` lets one side start 20 ms earlier so
    both orders are exercised (the page's side commits and then acknowledges the incident
    through its signal, in its own thread)."""
    import time

    from tests.concurrency import raised, run_concurrently

    responder, oncall_person, service = _committed_setup()
    incident = declare(actor=responder, level=1, service=service)
    page = _page(incident)

    def incident_side():
        if head_start == "page":
            time.sleep(0.02)
        return services.acknowledge(incident=incident.pk, actor=responder)

    def page_side():
        if head_start == "incident":
            time.sleep(0.02)
        return oncall_services.acknowledge_page(page=page, user=oncall_person, via="link")

    results = run_concurrently([incident_side, page_side])
    assert not raised(results), results
    incident.refresh_from_db()
    page.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.acknowledged_by in (responder, oncall_person)
    assert page.status == Page.Status.ACKNOWLEDGED
    assert _acks(incident) == 1
    assert page.events.filter(kind=PageEvent.Kind.ACKNOWLEDGED).count() == 1
    assert oncall_services.advance_page(page_id=page.pk, step_token=page.step_token) is False
    assert _level2_mails() == 0
