"""A burst of support filings on one service pages on-call about one problem, not once per
filing: reports join the open incident on their service (or the surge's), a report whose
service is already being paged about another recent report joins that page, and the surge's
incident stands the reports' page down. Figure: each on-call person gets at most two page
messages for a burst (a report's page, then the incident's), one when the incident forms
before any report's dispatch ran."""

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Count
from django.utils import timezone

from escalations import services, tasks
from escalations.models import Escalation, SupportSettings
from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall import services as oncall_services
from oncall.models import Page
from tests.escalations.factories import file, paged_service
from tests.factories import UserFactory


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


@pytest.fixture
def agent(db):
    from accounts import roles

    return UserFactory(username="agent", roles=[roles.SUPPORT])


def _page_messages_per_person() -> dict[str, int]:
    rows = Notification.objects.filter(kind="page").values("recipient__username").annotate(n=Count("pk"))
    return {row["recipient__username"]: row["n"] for row in rows}


def _assert_one_problem(service, count: int) -> Incident:
    """Every report linked to the one incident; none keeps an open page of its own."""
    incident = Incident.objects.get()
    reports = Escalation.objects.filter(service=service)
    assert reports.count() == count
    assert set(reports.values_list("incident_id", flat=True)) == {incident.pk}
    assert set(reports.values_list("status", flat=True)) == {Escalation.Status.LINKED}
    assert not reports.filter(page__status__in=Page.OPEN).exists()
    assert Page.objects.filter(status__in=Page.OPEN).count() == 1  # the incident's own
    assert incident.reported_customers == count
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.SUPPORT_REPORT).count()
        == count
    )
    return incident


# --- the reported burst, in order (SQLite and PostgreSQL) -------------------------------------


@pytest.mark.django_db
def test_ten_filings_each_dispatched_before_the_next_page_on_call_twice(agent, service):
    """Worst case: every dispatch runs before the next filing arrives."""
    for n in range(10):
        file(agent, service=service, customer=f"customer-{n}")
    incident = _assert_one_problem(service, 10)
    oncaller = service.owner_team.escalation_policies.get().levels.get(position=1).users.get()
    # the first report's page (the second joined it), then the surge incident's page
    assert _page_messages_per_person() == {oncaller.username: 2}
    first_page = Escalation.objects.order_by("created_at", "pk").first().page
    assert first_page.status == Page.Status.RESOLVED
    assert first_page.resolve_reason == f"Linked to {incident.reference}"
    assert Page.objects.get(status__in=Page.OPEN).subject == incident


@pytest.mark.django_db
def test_ten_filings_before_any_dispatch_page_on_call_once(agent, service):
    filed = [file(agent, service=service, customer=f"customer-{n}", dispatch=False) for n in range(10)]
    outcomes = [tasks.dispatch(e.pk) for e in filed]
    assert outcomes.count("already dispatched") == 9  # settled by the surge or the attach
    _assert_one_problem(service, 10)
    assert list(_page_messages_per_person().values()) == [1]


# --- an open incident on the service ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("impact", ["blocked", "degraded", "question"])
def test_filing_for_a_service_with_an_open_incident_is_attached(agent, responder, service, impact):
    from tests.incidents.factories import declare

    incident = declare(actor=responder, level=3, service=service)  # SEV-3: nobody paged
    escalation = file(agent, service=service, impact=impact, customers_reporting=4, dispatch=False)
    assert (escalation.incident, escalation.linked_by) == (incident, Escalation.LinkSource.SUPPORT)
    assert escalation.status == Escalation.Status.LINKED
    assert escalation.dispatched_at is not None
    assert tasks.dispatch(escalation.pk) == "already dispatched"
    escalation.refresh_from_db()
    assert escalation.page is None
    assert not Page.objects.exists()
    assert not Notification.objects.filter(kind="page").exists()
    incident.refresh_from_db()
    assert incident.reported_customers == 4
    event = TimelineEvent.objects.get(incident=incident, kind=TimelineEvent.Kind.SUPPORT_REPORT)
    assert "attached automatically" in event.text
    assert event.related_id == escalation.pk


@pytest.mark.django_db
def test_incident_opened_between_filing_and_dispatch_takes_the_report(agent, responder, service):
    from tests.incidents.factories import declare

    escalation = file(agent, service=service, dispatch=False)
    incident = declare(actor=responder, level=3, service=service)
    assert tasks.dispatch(escalation.pk) == f"attached to {incident.reference}"
    escalation.refresh_from_db()
    assert (escalation.incident, escalation.status, escalation.page) == (incident, "linked", None)
    assert not Notification.objects.filter(kind="page").exists()


@pytest.mark.django_db
def test_drills_and_other_services_do_not_take_reports(agent, responder, service):
    from tests.incidents.factories import declare

    declare(actor=responder, level=3, service=service, drill=True)
    declare(actor=responder, level=3, service=paged_service(name="Search"))
    escalation = file(agent, service=service)
    assert escalation.incident is None
    assert escalation.page is not None


@pytest.mark.django_db
def test_the_most_severe_open_incident_on_the_service_takes_the_report(agent, responder, service):
    from tests.incidents.factories import declare

    declare(actor=responder, level=4, service=service)
    worse = declare(actor=responder, level=3, service=service)
    assert file(agent, service=service).incident == worse


# --- reports paged together before any incident ------------------------------------------------


@pytest.mark.django_db
def test_a_second_report_joins_the_page_already_running_for_its_service(
    agent, responder, service, django_capture_on_commit_callbacks
):
    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)  # no surge here
    first = file(agent, service=service, customer="a")
    second = file(agent, service=service, customer="b")
    assert second.page == first.page
    assert Notification.objects.filter(kind="page").count() == 1
    assert Page.objects.count() == 1
    # resolving one report leaves the page calling for the other
    services.resolve(escalation=first, actor=responder, reply="Fixed for a.")
    first.page.refresh_from_db()
    assert first.page.status == Page.Status.TRIGGERED
    # acknowledging the shared page acknowledges the report still open
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=second.page, user=responder, via="link")
    second.refresh_from_db()
    assert (second.status, second.acknowledged_by) == (Escalation.Status.ACKNOWLEDGED, responder)
    first.refresh_from_db()
    assert first.status == Escalation.Status.RESOLVED  # untouched
    services.resolve(escalation=second, actor=responder, reply="Fixed for b.")
    second.page.refresh_from_db()
    assert second.page.status == Page.Status.RESOLVED


@pytest.mark.django_db
def test_reports_outside_the_surge_window_page_on_their_own(agent, service):
    from tests.escalations.test_surge import T0

    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)
    with time_machine.travel(T0, tick=False):
        first = file(agent, service=service, customer="a")
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        later = file(agent, service=service, customer="b")
    assert later.page != first.page
    assert Page.objects.count() == 2


@pytest.mark.django_db
def test_linking_one_report_of_a_shared_page_leaves_the_page_for_the_other(agent, responder, service):
    from tests.incidents.factories import declare

    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)
    first = file(agent, service=service, customer="a")
    second = file(agent, service=service, customer="b")
    elsewhere = declare(actor=responder, level=3, service=paged_service(name="Search"))
    services.link_to_incident(escalation=first, incident=elsewhere, actor=responder)
    second.page.refresh_from_db()
    assert second.page.status == Page.Status.TRIGGERED


# --- at the same moment, on PostgreSQL --------------------------------------------------------


def _committed_setup():
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity

    ensure_severities(Severity)  # a transactional test starts from a flushed database
    SupportSettings.load()
    agent = UserFactory(username="agent", roles=[roles.SUPPORT])
    return agent, paged_service(name="Checkout")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_filings_then_every_dispatch_page_once(purge_broker):
    from tests.concurrency import raised, run_concurrently

    agent, service = _committed_setup()
    results = run_concurrently(
        [lambda n=n: file(agent, service=service, customer=f"c-{n}", dispatch=False) for n in range(10)]
    )
    assert not raised(results), raised(results)
    outcomes = run_concurrently([lambda e=e: tasks.dispatch(e.pk) for e in results])
    assert not raised(outcomes), raised(outcomes)
    _assert_one_problem(service, 10)
    assert list(_page_messages_per_person().values()) == [1]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_ten_simultaneous_filings_with_their_dispatches_interleaved(purge_broker, attempt):
    """Each thread files and then dispatches (as its worker would, on commit), so dispatches
    run while other filings are still arriving."""
    from tests.concurrency import raised, run_concurrently

    agent, service = _committed_setup()
    results = run_concurrently(
        [lambda n=n: file(agent, service=service, customer=f"c-{n}") for n in range(10)]
    )
    assert not raised(results), raised(results)
    assert services.dispatch_overdue(now=timezone.now() + services.DISPATCH_GRACE) == {}
    _assert_one_problem(service, 10)
    per_person = _page_messages_per_person()
    assert len(per_person) == 1  # level 1 only: nobody waited for level 2
    assert max(per_person.values()) <= 2, per_person
