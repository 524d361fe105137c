"""Accept first, page on commit: a filing is committed with its routing and SLA; a worker
pages on-call (or tells the team) exactly once, also when its task is redelivered, the auditor
runs it too, or both race; the report that completed a surge pages for its incident."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import transaction

from escalations import services, tasks
from escalations.models import Escalation, SupportSettings
from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall.models import Page
from opsportal.celery import app
from tests.concurrency import raised, run_concurrently
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
    app.control.purge()
    with django_capture_on_commit_callbacks(execute=True):
        escalation = file(agent, service=service, dispatch=False)
    assert escalation.dispatched_at is None
    assert escalation.page is None
    # what reached the real broker: one escalations.dispatch for this escalation, on critical
    with app.connection_for_read() as conn:
        message = conn.default_channel.basic_get("critical", no_ack=True)
        assert conn.default_channel.basic_get("critical", no_ack=True) is None
    assert message.headers["task"] == "escalations.dispatch"
    args, kwargs, _ = message.decode()
    assert (args, kwargs) == ([escalation.pk], {})


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
@pytest.mark.parametrize("first", ["acknowledged", "linked", "resolved"])
def test_handled_before_dispatch_pages_nobody(agent, service, responder, first):
    from tests.incidents.factories import declare

    escalation = file(agent, service=service, dispatch=False)
    if first == "acknowledged":
        services.acknowledge(escalation=escalation, actor=responder)
    elif first == "linked":
        services.link_to_incident(
            escalation=escalation,
            incident=declare(actor=responder, level=3, service=service),
            actor=responder,
        )
    else:
        services.resolve(escalation=escalation, actor=responder, reply="Known issue, fixed in 1.2.")
    assert (
        tasks.dispatch(escalation.pk) == f"not needed ({first.replace('linked', 'linked to incident')} first)"
    )
    escalation.refresh_from_db()
    assert escalation.page is None
    assert escalation.dispatched_at is not None
    assert not Page.objects.filter(dedup_key=f"escalations:{escalation.pk}").exists()


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
    SupportSettings.load()  # the row exists (a transactional test before may have flushed it)
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)  # three filings, no surge
    other = paged_service(name="Search")  # one service per filing: none joins another's page
    newer = file(agent, service=None, customer="newer", dispatch=False)  # no triage policy set
    older = file(agent, service=service, customer="older", dispatch=False)
    fresh = file(agent, service=other, customer="fresh", dispatch=False)
    done = file(agent, service=paged_service(name="Billing"), customer="done")
    Escalation.objects.filter(pk=newer.pk).update(created_at=fresh.created_at - timedelta(minutes=1))
    Escalation.objects.filter(pk=older.pk).update(created_at=fresh.created_at - timedelta(minutes=5))
    now = fresh.created_at + timedelta(seconds=10)  # fresh has not waited long enough yet
    outcomes = services.dispatch_overdue(now=now)
    assert list(outcomes.items()) == [(older.pk, "paged"), (newer.pk, "no policy to page")]
    later = fresh.created_at + services.DISPATCH_GRACE
    assert services.dispatch_overdue(now=later) == {fresh.pk: "paged"}
    assert Escalation.objects.filter(dispatched_at__isnull=True).count() == 0
    assert done.dispatched_at is not None


@pytest.mark.django_db
def test_auditor_goes_on_past_a_row_that_fails(agent, service, caplog, monkeypatch):
    from django.db import OperationalError

    broken = file(agent, service=service, customer="broken", dispatch=False)
    fine = file(agent, service=service, customer="fine", dispatch=False)
    Escalation.objects.filter(pk=broken.pk).update(created_at=fine.created_at - timedelta(minutes=1))
    real = services.dispatch

    def failing_for_broken(*, escalation_id):  # e.g. a deadlock victim; the next run retries it
        if escalation_id == broken.pk:
            raise OperationalError("deadlock detected")
        return real(escalation_id=escalation_id)

    monkeypatch.setattr(services, "dispatch", failing_for_broken)
    later = fine.created_at + services.DISPATCH_GRACE
    assert services.dispatch_overdue(now=later) == {broken.pk: "failed: OperationalError", fine.pk: "paged"}
    assert "dispatch failed" in caplog.text
    monkeypatch.setattr(services, "dispatch", real)
    assert services.dispatch_overdue(now=later) == {broken.pk: "paged"}


@pytest.mark.django_db
def test_a_filing_paged_before_dispatch_existed_is_not_paged_again(agent, service):
    """Rows a web process running the previous code filed (and paged) just before the deploy."""
    escalation = file(agent, service=service, dispatch=False)
    services.escalate_overdue(escalation_id=escalation.pk)  # opens its page, as filing did then
    Escalation.objects.filter(pk=escalation.pk).update(dispatched_at=None)
    assert tasks.dispatch(escalation.pk) == "already paged"
    assert Page.objects.count() == 1


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
    assert second.page == first.page  # the second report joined the page running for the first
    outcome = tasks.dispatch(third.pk)
    assert outcome == "incident paged, 1 report page(s) stood down"
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
    assert tasks.dispatch(third.pk) == "incident already paged, 1 report page(s) stood down"
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.PAGE).count() == 1


@pytest.mark.django_db
def test_surge_incident_resolved_before_dispatch_pages_nobody(agent, service, responder):
    from incidents import services as incident_services

    *_, third = _surge(agent, service)
    incident = Incident.objects.get()
    incident_services.resolve(incident=incident, actor=responder, note="Fixed")
    assert tasks.dispatch(third.pk) == "incident no longer open, not paged, 1 report page(s) stood down"
    assert not Page.objects.filter(dedup_key=f"incident:{incident.pk}").exists()
    # the reports' own pages stop too: nobody is chased about a resolved incident
    assert set(Page.objects.values_list("status", flat=True)) == {Page.Status.RESOLVED}


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


def _committed_setup():
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity

    ensure_severities(Severity)  # a transactional test starts from a flushed database
    agent = UserFactory(username="agent", roles=[roles.SUPPORT])
    responder = UserFactory(username="responder", is_staff=True, roles=[roles.RESPONDERS])
    return agent, responder, paged_service(name="Checkout")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_task_and_auditor_racing_page_once(purge_broker):
    agent, _, service = _committed_setup()
    escalation = file(agent, service=service, dispatch=False)
    far = escalation.created_at + timedelta(hours=1)

    def task():
        return [services.dispatch(escalation_id=escalation.pk)]

    def auditor():
        return list(services.dispatch_overdue(now=far).values())

    results = run_concurrently([task, task, auditor, auditor])
    assert not raised(results)
    outcomes = [outcome for result in results for outcome in result]
    assert outcomes.count("paged") == 1
    assert set(outcomes) <= {"paged", "already dispatched"}
    assert Page.objects.count() == 1
    assert Notification.objects.filter(kind="page").count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("action", "page_status"), [("acknowledge", "acknowledged"), ("resolve", "resolved")]
)
def test_triage_waiting_for_a_running_dispatch_also_handles_its_new_page(purge_broker, action, page_status):
    """The responder acts while the worker holds the escalation's lock with the page just
    opened: after the wait, the action must see that page (and stop it)."""
    agent, responder, service = _committed_setup()
    escalation = file(agent, service=service, dispatch=False)
    opened = threading.Event()

    def worker():
        with transaction.atomic():
            services.dispatch(escalation_id=escalation.pk)
            opened.set()
            time.sleep(0.5)  # the responder is now waiting for the row lock

    def responder_acts():
        assert opened.wait(timeout=10)
        if action == "acknowledge":
            services.acknowledge(escalation=escalation.pk, actor=responder)
        else:
            services.resolve(escalation=escalation.pk, actor=responder, reply="Fixed in 1.2.")

    assert not raised(run_concurrently([worker, responder_acts]))
    escalation.refresh_from_db()
    assert escalation.status == action.replace("acknowledge", "acknowledged").replace("resolve", "resolved")
    assert escalation.page.status == page_status  # not left escalating for a handled report


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_surge_rechecks_after_waiting_for_a_report_an_engineer_is_opening_an_incident_from(purge_broker):
    agent, responder, service = _committed_setup()
    first = file(agent, service=service, customer="a")
    file(agent, service=service, customer="x")
    opened = threading.Event()
    third: list = []

    def engineer():
        with transaction.atomic():
            services.open_incident(escalation=first.pk, actor=responder, severity=3)
            opened.set()
            time.sleep(0.5)  # the third filing is now waiting for the first report's lock

    def filing():
        assert opened.wait(timeout=10)
        third.append(file(agent, service=service, customer="b"))

    assert not raised(run_concurrently([engineer, filing]))
    incident = Incident.objects.get()  # the engineer's: the surge saw it and stood back
    assert incident.declared_by == responder
    # and the filing joined it as a customer report instead of paging on its own
    assert (third[0].incident, third[0].linked_by) == (incident, Escalation.LinkSource.SUPPORT)
    assert third[0].page is None


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
