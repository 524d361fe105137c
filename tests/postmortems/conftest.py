import pytest

from accounts import roles
from tests.factories import ServiceFactory, TeamFactory, UserFactory


@pytest.fixture
def manager2(db):
    """A second engineering manager (reviews what the first one writes)."""
    return UserFactory(
        username="manager2", first_name="Grace", last_name="Review", is_staff=True, roles=[roles.MANAGERS]
    )


@pytest.fixture
def team(manager, responder):
    team = TeamFactory(name="Payments", slug="payments", manager=manager)
    team.members.add(responder, manager)
    return team


@pytest.fixture
def service(team):
    return ServiceFactory(name="Billing API", slug="billing-api", owner_team=team)
