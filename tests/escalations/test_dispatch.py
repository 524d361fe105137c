"""Accept first, page on commit: a filing is committed with its routing and SLA; a worker
pages on-call (or tells the team) exactly once, also when its task is redelivered, the auditor
runs it too, or both race; the report that completed a surge pages for its incident."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from escalations import services, tasks
from escalations.models import Escalation, SupportSettings
from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall.models import Page
from opsportal.celery import app
from tests.escalations.factories import file, paged_service, run_dispatch
from tests.factories import UserFactory


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


@pytest.fixture
def agent(db):
    from accounts import roles

    return UserFactory(username="agent", roles=[roles.SUPPORT])


def _page_messages(escalation) -> int:
    return Notification.objects.filter(
        kind="page", event_key__startswith=f"oncall:page:{escalation.page_id}:"
    ).count()


@pytest.mark.django_db
def test_filing_enqueues_its_dispatch_on_commit(agent, service, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        escalation = file(agent, service=service, dispatch=False)
    assert escalation.dispatched_at is None
    assert escalation.page is None
    assert [cb.__qualname__ for cb in callbacks] == ["_enqueue_dispatch.<locals>.publish"]


@pytest.mark.django_db
def test_redelivered_dispatch_pages_once(agent, service):
    escalation = run_dispatch(file(agent, service=service, dispatch=False))
    assert escalation.page.dedup_key == f"escalations:{escalation.pk}"
    messages = _page_messages(escalation)
    assert messages == 1
    assert tasks.dispatch(escalation.pk) == "already dispatched"
    assert services.dispatch_overdue(now=escalation.created_at + timedelta(hours=1)) == {}
    escalation.refresh_from_db()
    assert _page_messages(escalation) == messages
    assert Page.objects.count() == 1


@pytest.mark.django_db
def test_acknowledged_before_dispatch_pages_nobody(agent, service, responder):
    escalation = file(agent, service=service, dispatch=False)
    services.acknowledge(escalation=escalation, actor=responder)
    assert tasks.dispatch(escalation.pk) == "not needed (acknowledged first)"
    escalation.refresh_from_db()
    assert escalation.page is None
    assert escalation.dispatched_at is not None
    assert not Page.objects.exists()


@pytest.mark.django_db
def test_dispatch_of_a_deleted_escalation_is_harmless(db):
    assert tasks.dispatch(987654) == "no such escalation"


@pytest.mark.django_db
def test_sla_breach_before_dispatch_pages_once(agent, service):
    """The worker was down for the whole SLA: the reminder pages; the late task does not."""
    escalation = file(agent, service=service, dispatch=False)
    assert services.escalate_overdue(escalation_id=escalation.pk) == "paged"
    escalation.refresh_from_db()
    assert escalation.page is not None
    assert escalation.dispatched_at is not None
    assert tasks.dispatch(escalation.pk) == "already dispatched"
    assert Page.objects.count() == 1


@pytest.mark.django_db
def test_auditor_takes_the_oldest_first_and_only_what_waited(agent, service):
    first = file(agent, service=service, customer="first", dispatch=False)
    second = file(agent, service=None, customer="second", dispatch=False)  # no triage policy set
    done = file(agent, service=service, customer="done")
    Escalation.objects.filter(pk=first.pk).update(created_at=first.created_at - timedelta(minutes=5))
    now = second.created_at + timedelta(seconds=10)  # second has not waited long enough yet
    assert services.dispatch_overdue(now=now) == {first.pk: "paged"}
    later = second.created_at + services.DISPATCH_GRACE
    assert services.dispatch_overdue(now=later) == {second.pk: "no policy to page"}
    assert Escalation.objects.filter(dispatched_at__isnull=True).count() == 0
    assert done.dispatched_at is not None


@pytest.mark.django_db
def test_auditor_is_a_periodic_task_on_the_critical_queue():
    from opsportal import periodic

    spec = next(s for s in periodic.collect() if s.task == "escalations.dispatch_overdue")
    assert spec.every == timedelta(seconds=60)
    assert spec.queue == "critical"
    assert app.amqp.router.route({}, "escalations.dispatch")["queue"].name == "critical"


# --- surges ----------------------------------------------------------------------------------


def _surge(agent, service, **kwargs):
    first = file(agent, service=service, customer="a")
    second = file(agent, service=service, customer="b")
    third = file(agent, service=service, customer="c", dispatch=False, **kwargs)
    return first, second, third


@pytest.mark.django_db
def test_surge_filing_opens_the_incident_and_its_dispatch_pages_for_it(agent, service):
    first, second, third = _surge(agent, service)
    incident = Incident.objects.get()
    assert third.incident == incident
    # the filing itself only opened and linked: paging is its dispatch
    assert not Page.objects.filter(dedup_key=f"incident:{incident.pk}").exists()
    assert first.page.is_open
    assert second.page.is_open
    outcome = tasks.dispatch(third.pk)
    assert outcome == "incident paged, 2 report page(s) stood down"
    page = Page.objects.get(dedup_key=f"incident:{incident.pk}")
    assert page.subject == incident
    for report in (first, second):
        report.page.refresh_from_db()
        assert report.page.status == Page.Status.RESOLVED
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.PAGE).count() == 1
    # redelivered, or a linked report's own late dispatch: nothing more
    assert tasks.dispatch(third.pk) == "already dispatched"
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1


@pytest.mark.django_db
def test_undispatched_reports_swept_into_a_surge_never_page_on_their_own(agent, service):
    first = file(agent, service=service, customer="a", dispatch=False)  # worker slow or down
    file(agent, service=service, customer="b")
    third = file(agent, service=service, customer="c")
    incident = Incident.objects.get()
    assert third.incident == incident
    first.refresh_from_db()
    assert first.dispatched_at is not None  # settled by the surge
    assert tasks.dispatch(first.pk) == "already dispatched"
    first.refresh_from_db()
    assert first.page is None
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1


@pytest.mark.django_db
def test_surge_at_a_paging_severity_is_paged_once(agent, service, manager):
    """SEV-2 pages on-call when declared (incidents' own paging, inside the filing); the
    dispatch finds that page and does not page or note it again."""
    services.update_settings(actor=manager, surge_severity=2)
    *_, third = _surge(agent, service)
    incident = Incident.objects.get()
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1
    assert tasks.dispatch(third.pk) == "incident already paged, 2 report page(s) stood down"
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.PAGE).count() == 1


@pytest.mark.django_db
def test_surge_incident_resolved_before_dispatch_pages_nobody(agent, service, responder):
    from incidents import services as incident_services

    *_, third = _surge(agent, service)
    incident = Incident.objects.get()
    incident_services.resolve(incident=incident, actor=responder, note="Fixed")
    assert tasks.dispatch(third.pk) == "not needed (incident no longer open)"
    assert not Page.objects.filter(dedup_key=f"incident:{incident.pk}").exists()


@pytest.mark.django_db
def test_surge_without_any_policy_notes_that_nobody_was_paged(agent):
    from tests.factories import ServiceFactory

    lonely = ServiceFactory(name="Lonely")  # its team has no policy, no triage policy either
    assert SupportSettings.load().triage_policy is None
    *_, third = _surge(agent, lonely)
    incident = Incident.objects.get()
    assert tasks.dispatch(third.pk) == "nobody paged for the incident, 0 report page(s) stood down"
    assert not Page.objects.exists()
    note = TimelineEvent.objects.get(incident=incident, kind=TimelineEvent.Kind.NOTE)
    assert "Nobody was paged" in note.text


# --- races and the real worker -------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_task_and_auditor_racing_page_once(purge_broker):
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity

    ensure_severities(Severity)  # a transactional test starts from a flushed database
    agent = UserFactory(username="agent", roles=[roles.SUPPORT])
    escalation = file(agent, service=paged_service(name="Checkout"), dispatch=False)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(services.dispatch(escalation_id=escalation.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["already dispatched"] * 3 + ["paged"]
    assert Page.objects.count() == 1
    assert Notification.objects.filter(kind="page").count() == 1


@pytest.mark.integration
@pytest.mark.postgresql  # a worker subprocess cannot open SQLite's in-memory test database
@pytest.mark.django_db(transaction=True)
def test_form_filing_is_paged_by_a_real_worker(client, purge_broker):
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity
    from tests.celery_worker import running_worker, wait_for, worker_database_url
    from tests.conftest import PASSWORD

    ensure_severities(Severity)
    UserFactory(username="agent", roles=[roles.SUPPORT])
    service = paged_service(name="Checkout")
    assert client.login(username="agent", password=PASSWORD)
    data = {
        "incident": "new", "customer": "acme-corp", "contact": "ops@acme.example", "service": str(service.pk),
        "summary": "Checkout down", "impact": "blocked", "customers_reporting": "1",
    }  # fmt: skip
    with running_worker(queues="critical", extra_env={"DATABASE_URL": worker_database_url()}):
        assert client.post("/support/escalate/", data).status_code == 302
        escalation = Escalation.objects.get()
        wait_for(lambda: Escalation.objects.filter(pk=escalation.pk, page__isnull=False).exists(), timeout=40)
        # the page's first message goes out through the same worker
        wait_for(lambda: Notification.objects.filter(kind="page", status="sent").exists(), timeout=40)
    escalation.refresh_from_db()
    assert escalation.dispatched_at is not None
    assert escalation.page.dedup_key == f"escalations:{escalation.pk}"
