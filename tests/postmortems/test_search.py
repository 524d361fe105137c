"""Archive search: the same tests run on PostgreSQL (full text, GIN index) and SQLite (LIKE)."""

import pytest
from django.db import connection

from postmortems import selectors, services
from tests.postmortems import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(responder, manager, service):
    pool = f.postmortem(
        actor=responder,
        incident=f.resolved_incident(
            actor=responder, service=service, title="Checkout errors", summary="500s on pay"
        ),
    )
    services.update_postmortem(
        postmortem=pool, actor=responder, root_cause="A retry storm exhausted the database connection pool."
    )
    cert = f.postmortem(
        actor=responder,
        incident=f.resolved_incident(actor=responder, service=service, title="Custom domains down"),
    )
    services.update_postmortem(
        postmortem=cert, actor=responder, root_cause="The renewal job lost its DNS credentials."
    )
    no_pm = f.resolved_incident(
        actor=responder, service=service, title="Search latency", summary="Slow Elasticsearch shard"
    )
    return pool, cert, no_pm


def test_search_finds_postmortem_by_root_cause_word(archive):
    pool, cert, _ = archive
    assert list(selectors.search_archive("retry")) == [pool.incident]
    assert list(selectors.search_archive("credentials")) == [cert.incident]
    assert list(selectors.search_archive("connection pool")) == [pool.incident]
    assert list(selectors.search_postmortems("storm")) == [pool]


def test_search_covers_incident_title_and_summary(archive):
    pool, _, no_pm = archive
    assert list(selectors.search_archive("checkout")) == [pool.incident]
    assert list(selectors.search_archive("elasticsearch")) == [no_pm]
    assert list(selectors.search_archive("domains")) == [archive[1].incident]


def test_search_misses_and_empty_queries(archive):
    assert list(selectors.search_archive("zebra")) == []
    assert list(selectors.search_archive("   ")) == []
    assert list(selectors.search_archive("retry zebra")) == []  # every word must match
    assert list(selectors.search_archive("'; DROP TABLE x; --")) == []


def test_open_incidents_are_not_in_the_archive(archive, responder, service):
    from incidents import services as incident_services

    pool = archive[0]
    incident_services.reopen(incident=pool.incident, actor=responder)
    assert list(selectors.search_archive("retry")) == []


def test_postgresql_uses_stemming_and_the_gin_index(archive):
    if connection.vendor != "postgresql":
        # SQLite: substring matching, tested above; stemming is a PostgreSQL feature.
        assert list(selectors.search_archive("exhausted")) == [archive[0].incident]
        return
    assert list(selectors.search_archive("exhausting pools")) == [archive[0].incident]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = selectors.search_postmortems("retry").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "postmortems_search_gin" in plan
