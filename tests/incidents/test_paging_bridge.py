"""Incidents page on-call through oncall's paging, in the incident's own transaction, and a
page acknowledgement acknowledges the incident (oncall -> incidents via its signal)."""

import pytest

from incidents import services
from incidents.models import TimelineEvent
from oncall.models import Page
from oncall.services import acknowledge_page
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare
from tests.oncall.factories import PolicyFactory, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def paged_service(responder):
    team = TeamFactory(manager=UserFactory())
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, delay=5, users=[responder])
    return ServiceFactory(owner_team=team)


def _pages(incident):
    return Page.objects.filter(subject_id=str(incident.pk), subject_type__model="incident")


def test_paging_severity_opens_one_page_with_the_incident_as_subject(
    manager, paged_service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=manager, level=1, service=paged_service)
    (page,) = _pages(incident)
    assert page.status == Page.Status.TRIGGERED
    assert incident.reference in page.title
    assert incident.timeline.filter(kind=TimelineEvent.Kind.PAGE, text__startswith="Paged on-call").exists()


def test_non_paging_severity_pages_nobody_and_raising_it_pages_once(manager, paged_service):
    incident = declare(actor=manager, level=3, service=paged_service)
    assert not _pages(incident).exists()
    services.change_severity(incident=incident, actor=manager, severity=2, reason="worse")
    services.change_severity(incident=incident, actor=manager, severity=1, reason="much worse")
    assert _pages(incident).count() == 1


def test_acknowledging_the_page_acknowledges_the_incident_and_sets_commander(
    manager, responder, paged_service, django_capture_on_commit_callbacks
):
    incident = declare(actor=manager, level=2, service=paged_service)
    (page,) = _pages(incident)
    with django_capture_on_commit_callbacks(execute=True):
        acknowledge_page(page=page, user=responder, via="link")
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    assert incident.commander == responder


def test_resolving_the_incident_resolves_its_page(manager, responder, paged_service):
    incident = declare(actor=manager, level=2, service=paged_service)
    services.resolve(incident=incident, actor=responder)
    assert _pages(incident).get().status == Page.Status.RESOLVED


def test_no_policy_is_recorded_on_the_timeline_not_an_error(manager):
    incident = declare(actor=manager, level=1)  # its team has no escalation policy
    assert not _pages(incident).exists()
    assert incident.timeline.filter(text__startswith="On-call was NOT paged").exists()
