import pytest
from django.core.management import call_command
from django.test import override_settings

from runbooks import selectors
from runbooks.models import Runbook
from tests.factories import ServiceFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db


def test_services_without_runbooks(django_assert_num_queries):
    tier1_bare = ServiceFactory(name="Checkout", tier="tier-1")
    tier3_bare = ServiceFactory(name="Search", tier="tier-3")
    covered = ServiceFactory(name="DNS", tier="tier-1")
    RunbookFactory(services=[covered])
    with django_assert_num_queries(1):
        assert list(selectors.services_without_runbooks()) == [tier1_bare, tier3_bare]
    assert list(selectors.services_without_runbooks(limit=1)) == [tier1_bare]
    assert selectors.has_runbook(covered)
    assert not selectors.has_runbook(tier3_bare)


def test_runbooks_for_services_has_no_duplicates(django_assert_num_queries):
    a, b, c = ServiceFactory(), ServiceFactory(), ServiceFactory()
    both = RunbookFactory(title="A both", services=[a, b])
    only_b = RunbookFactory(title="B only", services=[b])
    RunbookFactory(title="C other", services=[c])
    with django_assert_num_queries(2):  # runbooks with owner team/reviewers, services prefetch
        found = list(selectors.runbooks_for_services([a.pk, b.pk]))
        assert [list(rb.services.all()) for rb in found]
    assert found == [both, only_b]
    assert list(selectors.runbooks_for_services([])) == []
    with django_assert_num_queries(1):
        grouped = selectors.runbooks_by_service([a.pk, b.pk, c.pk])
    assert grouped[a.pk] == [both]
    assert grouped[b.pk] == [both, only_b]


@override_settings(DEBUG=True)
def test_demo_runbooks_cover_every_freshness_state():
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    assert Runbook.objects.count() == 7
    states = {rb.slug: rb.freshness for rb in Runbook.objects.all()}
    assert states["tls-certificate-renewal"] == Runbook.Freshness.REVIEW_DUE
    assert states["billing-webhook-backlog"] == Runbook.Freshness.FRESH
    assert states["dns-failover"] == Runbook.Freshness.STALE
    assert states["database-failover"] == Runbook.Freshness.NEVER_TESTED
    assert selectors.services_without_runbooks().exists()  # the admin flag has something to show
    assert selectors.search("certificate").first().slug == "tls-certificate-renewal"
