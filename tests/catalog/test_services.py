import pytest
from django.db import IntegrityError, transaction

from catalog import selectors, services
from catalog.models import Service, ServiceDependency
from opsportal.errors import InvalidInput
from tests.factories import ServiceDependencyFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_self_dependency_and_duplicates():
    svc = ServiceFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceDependency.objects.create(service=svc, depends_on=svc)
    other = ServiceFactory()
    ServiceDependency.objects.create(service=svc, depends_on=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceDependency.objects.create(service=svc, depends_on=other)


def test_owner_team_is_required_and_protected():
    team = TeamFactory()
    ServiceFactory(owner_team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(name="orphan", slug="orphan", owner_team=None)
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        team.delete()


def test_cycles_are_refused_with_a_clear_message():
    a, b, c = ServiceFactory(name="A"), ServiceFactory(name="B"), ServiceFactory(name="C")
    services.set_dependencies(service=a, depends_on=[b])
    services.set_dependencies(service=b, depends_on=[c])
    with pytest.raises(InvalidInput, match="A already depends on C"):
        services.set_dependencies(service=c, depends_on=[a])
    with pytest.raises(InvalidInput, match="itself"):
        services.set_dependencies(service=a, depends_on=[a])
    assert set(c.dependencies.all()) == set()


def test_set_dependencies_adds_and_removes_with_history():
    a, b, c = ServiceFactory(), ServiceFactory(), ServiceFactory()
    services.set_dependencies(service=a, depends_on=[b])
    services.set_dependencies(service=a, depends_on=[c])
    assert list(a.dependencies.all()) == [c]
    assert ServiceDependency.history.filter(service_id=a.pk, history_type="-").count() == 1


def test_blast_radius_is_transitive_dependents():
    db_ = ServiceFactory(name="db")
    api = ServiceDependencyFactory(depends_on=db_).service
    web = ServiceDependencyFactory(depends_on=api).service
    unrelated = ServiceFactory()
    assert selectors.transitive_dependents([db_.pk]) == {api.pk, web.pk}
    assert selectors.transitive_dependencies([web.pk]) == {api.pk, db_.pk}
    assert unrelated.pk not in selectors.transitive_dependents([db_.pk])


def test_save_service_validates_fields():
    team = TeamFactory()
    with pytest.raises(Exception, match="slug"):
        services.save_service(name="x", slug="not a slug!", owner_team=team)


def test_service_and_team_history_records_changes(manager):
    svc = services.save_service(name="Billing", slug="billing", owner_team=TeamFactory())
    services.save_service(service=svc, tier=Service.Tier.TIER_1)
    assert [h.tier for h in svc.history.order_by("history_date")] == ["tier-2", "tier-1"]
    team = svc.owner_team
    services.save_team(team=team, members=[manager])
    assert team.history.count() >= 2
