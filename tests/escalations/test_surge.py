"""Surge detection: N reports for one service within M minutes and no open incident on it
open exactly one incident - also when the reports arrive at the same moment."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import close_old_connections, connection

from escalations.models import Escalation, SupportSettings
from incidents.models import Incident, TimelineEvent
from oncall.models import Page
from tests.escalations.factories import file, paged_service
from tests.factories import UserFactory

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def agent(db):
    from accounts import roles

    return UserFactory(username="agent", roles=[roles.SUPPORT])


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


@pytest.mark.django_db
def test_three_reports_in_fifteen_minutes_open_one_incident(agent, service):
    with time_machine.travel(T0, tick=False):
        first = file(agent, service=service, customer="a", started_at=T0 - timedelta(minutes=20))
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        second = file(
            agent, service=service, customer="b", started_at=T0 - timedelta(minutes=45), customers_reporting=4
        )
    assert Incident.objects.count() == 0
    with time_machine.travel(T0 + timedelta(minutes=14), tick=False):
        third = file(agent, service=service, customer="c")
    incident = Incident.objects.get()
    assert incident.detection_source == Incident.DetectionSource.SUPPORT
    assert incident.severity.level == 3
    assert incident.detected_at == T0  # the first of the reports
    assert incident.started_at == T0 - timedelta(minutes=45)  # the earliest reported start
    assert list(incident.services.all()) == [service]
    assert incident.declared_by is None
    assert incident.reported_customers == 6
    assert third.incident == incident
    for e in (first, second, third):
        e.refresh_from_db()
        assert e.incident == incident
        assert e.status == Escalation.Status.LINKED
        assert e.linked_by == "surge"
    # each report is on the timeline, and on-call is paged for the incident
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.SUPPORT_REPORT).count() == 3
    )
    incident_page = Page.objects.get(dedup_key=f"incident:{incident.pk}")
    assert incident_page.subject == incident
    assert incident_page.is_open
    # the two reports' own pages stand down: the incident's response takes over
    first.page.refresh_from_db()
    assert first.page.status == Page.Status.RESOLVED
    # a fourth report while the incident is open does not open another
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        file(agent, service=service, customer="d")
        file(agent, service=service, customer="e")
        file(agent, service=service, customer="f")
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_reports_spread_beyond_the_window_do_not_surge(agent, service):
    for minutes in (0, 10, 26):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            file(agent, service=service)
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_reports_for_different_services_or_not_sure_do_not_surge(agent, service):
    other = paged_service(name="Search")
    file(agent, service=service)
    file(agent, service=other)
    file(agent, service=None)
    file(agent, service=None)
    file(agent, service=None)
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_open_incident_on_the_service_suppresses_the_surge(agent, service, responder):
    from tests.incidents.factories import declare

    declare(actor=responder, level=2, service=service)
    for _ in range(4):
        file(agent, service=service)
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_threshold_window_and_severity_are_editable(agent, service, manager):
    from escalations import services

    services.update_settings(actor=manager, surge_threshold=2, surge_window_minutes=5, surge_severity=2)
    with time_machine.travel(T0, tick=False):
        file(agent, service=service)
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        file(agent, service=service)
    assert Incident.objects.get().severity.level == 2


@pytest.mark.django_db
def test_settings_are_managers_only(responder):
    from escalations import services
    from opsportal.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.update_settings(actor=responder, surge_threshold=2)
    assert SupportSettings.load().surge_threshold == 3


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_submissions_open_exactly_one_incident(purge_broker):
    from accounts import roles
    from incidents.defaults import ensure_severities
    from incidents.models import Severity

    ensure_severities(Severity)  # a transactional test starts from a flushed database
    agent = UserFactory(username="agent", roles=[roles.SUPPORT])
    service = paged_service(name="Checkout")
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            file(agent, service=service, customer=f"customer-{n}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Escalation.objects.count() == 10
    incident = Incident.objects.get()
    linked = Escalation.objects.filter(incident=incident)
    # the first three reports (in commit order) made the surge; the rest were attached to it
    assert linked.count() == 10
    assert linked.filter(linked_by="surge").count() == 3
    assert incident.detected_at == min(e.created_at for e in Escalation.objects.all())
    assert Page.objects.filter(dedup_key=f"incident:{incident.pk}").count() == 1
