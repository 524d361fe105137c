import pytest

from tests.factories import UserFactory
from tests.importers import fakes


@pytest.fixture
def allow_local(settings):
    """The fakes listen on 127.0.0.1: allow loopback (production default: public addresses only)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    return settings


@pytest.fixture
def people(db):
    """Ops Portal accounts for 20 of the 22 source users (two are missing on purpose)."""
    return [UserFactory(username=f"person{i}", email=u["email"]) for i, u in enumerate(fakes.USERS) if i < 20]


@pytest.fixture
def all_people(db):
    return [UserFactory(username=f"person{i}", email=u["email"]) for i, u in enumerate(fakes.USERS)]


def _serve(factory):
    fake = factory()
    yield fake
    fake.close()


@pytest.fixture
def pd_fake():
    yield from _serve(fakes.pagerduty)


@pytest.fixture
def og_fake():
    yield from _serve(fakes.opsgenie)


@pytest.fixture
def go_fake():
    yield from _serve(fakes.grafana_oncall)
