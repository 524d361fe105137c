"""Gap detection: unowned duties, owners who left or were deactivated, bus factor, no on-call."""

from datetime import date

import pytest

from oncall.models import Schedule
from operations import selectors, services
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory


def kinds(gaps):
    return sorted(
        (g.kind, g.responsibility.title if g.responsibility else str(g.team or g.person)) for g in gaps
    )


@pytest.mark.django_db
def test_no_gaps_for_a_well_run_team():
    team = TeamFactory()
    Schedule.objects.create(team=team, name="Primary")
    ServiceFactory(owner_team=team)
    ResponsibilityFactory(team=team, title="Triage")
    assert selectors.gaps() == []


@pytest.mark.django_db
def test_unowned_duty():
    ResponsibilityFactory(title="Triage", owner=None)
    assert kinds(selectors.gaps()) == [("unowned", "Triage")]


@pytest.mark.django_db
def test_owner_who_left_the_team_or_was_deactivated(manager):
    gone = ResponsibilityFactory(title="Runbooks")
    gone.team.members.remove(gone.owner)
    inactive = ResponsibilityFactory(title="Backlog")
    inactive.owner.is_active = False
    inactive.owner.save()
    backup_left = ResponsibilityFactory(title="Upgrades")
    backup_left.team.members.remove(backup_left.backup)
    found = selectors.gaps()
    assert kinds(found) == [
        ("departed_backup", "Upgrades"),
        ("departed_owner", "Backlog"),
        ("departed_owner", "Runbooks"),
    ]
    assert any("no longer in" in g.message for g in found)
    assert any("deactivated" in g.message for g in found)
    # a deactivated owner also makes the duty "unowned" for health and reminders
    inactive.refresh_from_db()
    assert inactive.is_unowned()


@pytest.mark.django_db
def test_bus_factor_flags_one_person_owning_too_many_duties(settings):
    busy = UserFactory(first_name="Bea", last_name="Busy")
    team = TeamFactory()
    for i in range(4):
        ResponsibilityFactory(team=team, owner=busy, backup=None if i < 2 else UserFactory())
    assert selectors.bus_factor_limit() == 3
    (gap,) = selectors.gaps()
    assert gap.kind == "bus_factor"
    assert gap.person == busy
    assert gap.message == "Bea Busy owns 4 duties (limit 3), 2 of them without a backup."
    settings.OPERATIONS_BUS_FACTOR_LIMIT = 4
    assert selectors.gaps() == []


@pytest.mark.django_db
def test_retired_duties_do_not_count(manager):
    busy = UserFactory()
    duties = [ResponsibilityFactory(owner=busy) for _ in range(4)]
    services.set_active(responsibility=duties[0], actor=manager, active=False)
    assert selectors.gaps() == []


@pytest.mark.django_db
def test_team_with_services_but_no_on_call_schedule():
    lonely = TeamFactory(name="Web")
    ServiceFactory(owner_team=lonely)
    TeamFactory(name="No services")  # nothing to be on call for
    covered = TeamFactory(name="Platform")
    ServiceFactory(owner_team=covered)
    Schedule.objects.create(team=covered, name="Primary", time_zone="UTC")
    (gap,) = selectors.gaps()
    assert (gap.kind, gap.team) == ("no_on_call", lonely)


@pytest.mark.django_db
def test_gaps_show_on_the_page(client, manager):
    ResponsibilityFactory(title="Orphan duty", owner=None, first_due_on=date(2030, 1, 4))
    client.force_login(manager)
    html = client.get("/operating-model/").content.decode()
    assert "Orphan duty has no owner." in html
