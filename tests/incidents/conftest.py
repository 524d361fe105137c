import pytest

from accounts import roles
from tests.factories import UserFactory


@pytest.fixture
def responder2(db):
    return UserFactory(
        username="responder2", first_name="Rae", last_name="Two", is_staff=True, roles=[roles.RESPONDERS]
    )


@pytest.fixture
def paging_calls():
    """Every paging_requested signal sent during the test: [(incident_pk, reason, drill)]."""
    from incidents.signals import paging_requested

    calls = []

    def receiver(sender, incident, reason, drill, **kwargs):
        calls.append((incident.pk, reason, drill))

    paging_requested.connect(receiver, dispatch_uid="test-paging-calls")
    yield calls
    paging_requested.disconnect(dispatch_uid="test-paging-calls")


@pytest.fixture(autouse=True)
def _severities(request):
    """The seeded severity levels, even after a transactional test flushed the tables."""
    if "django_db" not in {m.name for m in request.node.iter_markers()}:
        return
    request.getfixturevalue("_django_db_helper")
    from incidents.defaults import ensure_severities

    ensure_severities()


@pytest.fixture(autouse=True)
def _own_close_guards(monkeypatch):
    """Other apps (postmortems) register close guards at start-up; these tests exercise the
    incident lifecycle and the guard mechanism themselves, so each starts with none."""
    from incidents import services

    monkeypatch.setattr(services, "_close_guards", [])
