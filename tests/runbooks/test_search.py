"""Search ranking on whichever database the suite runs on (PostgreSQL full-text in CI, the
ranked icontains fallback on SQLite), plus the fallback itself on both engines."""

import pytest
from django.db import connection

from runbooks import selectors
from runbooks.models import Runbook
from tests.factories import ServiceFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus():
    return {
        "body": RunbookFactory(
            title="Edge node replacement", scenarios="", diagnostic_steps="", mitigation="",
            body="Old nodes kept an expired certificate in their cache.",
        ),
        "title": RunbookFactory(
            title="Certificate renewal for a custom domain", scenarios="", diagnostic_steps="",
            mitigation="", body="",
        ),
        "steps": RunbookFactory(
            title="Load balancer drain", scenarios="", diagnostic_steps="Check the certificate chain.",
            mitigation="", body="",
        ),
        "scenarios": RunbookFactory(
            title="Customer domain errors", scenarios="Certificate expired on a custom domain",
            diagnostic_steps="", mitigation="", body="",
        ),
        "unrelated": RunbookFactory(
            title="Billing webhook backlog", scenarios="Queue depth", diagnostic_steps="scale consumers",
            mitigation="", body="Stripe retries.",
        ),
    }  # fmt: skip


def _titles(qs):
    return [rb.title for rb in qs]


def test_title_match_ranks_above_scenarios_steps_and_body(corpus):
    results = list(selectors.search("certificate"))
    assert results == [corpus["title"], corpus["scenarios"], corpus["steps"], corpus["body"]]
    ranks = [rb.rank for rb in results]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[0] > ranks[-1]


def test_fallback_ranks_the_same_way_on_every_engine(corpus):
    results = list(selectors.search_fallback(selectors.base_queryset(), "certificate"))
    assert results == [corpus["title"], corpus["scenarios"], corpus["steps"], corpus["body"]]


def test_every_word_must_match_and_case_does_not_matter(corpus):
    assert _titles(selectors.search("CUSTOM domain certificate")) == [
        corpus["title"].title,
        corpus["scenarios"].title,
    ]
    assert _titles(selectors.search_fallback(Runbook.objects.all(), "custom CERTIFICATE")) == [
        corpus["title"].title,
        corpus["scenarios"].title,
    ]


def test_stemming_on_postgresql_or_substring_on_the_fallback(corpus):
    # "certificates" stems to "certif" on PostgreSQL; the fallback matches substrings, so
    # both engines find the singular when searching "renewal"/"renew".
    query = "certificates" if connection.vendor == "postgresql" else "certif"
    assert corpus["title"] == selectors.search(query).first()
    assert corpus["title"] in selectors.search("renewal")


def test_empty_and_hostile_queries_never_fail(corpus):
    assert selectors.search("").count() == 5
    assert selectors.search("   ").count() == 5
    for query in ["'", '"', "!!!", "a & b | !c", "(((", "certificate:*", "\x00", "x" * 5000, "-", "or"]:
        list(selectors.search(query))  # no exception, whatever it finds


def test_search_respects_a_filtered_queryset(corpus):
    service = ServiceFactory()
    corpus["body"].services.set([service])
    scoped = selectors.base_queryset().filter(services=service)
    assert list(selectors.search("certificate", queryset=scoped)) == [corpus["body"]]


def test_postgresql_search_uses_the_gin_index_and_sqlite_has_no_tsvector(corpus):
    """PostgreSQL: the plan uses runbooks_runbook_search_gin once sequential scans are
    discouraged (a 5-row table is otherwise scanned, correctly, without the index).
    SQLite: migration 0002 added nothing, and search still answers through the fallback."""
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "runbooks_runbook")}
    if connection.vendor == "postgresql":
        assert "search_vector" in columns
        qs = selectors.search("certificate")
        with connection.cursor() as cursor:
            # a tiny table: take the planner's cheaper options away so the plan shows the index
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            plan = qs.explain()
        assert "runbooks_runbook_search_gin" in plan
    else:
        assert "search_vector" not in columns
        assert selectors.search("certificate").first() == corpus["title"]
