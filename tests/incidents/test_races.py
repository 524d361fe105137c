"""Two responders act at the same moment: exactly one transition is recorded.

Real threads with their own database connections. PostgreSQL only: SQLite has no row locks
(``select_for_update`` is a no-op there and concurrent writers fail with "database is
locked" instead of waiting), so this race cannot be reproduced on it.
"""

import threading

import pytest
from django.db import connection

from incidents import services
from incidents.models import Incident, TimelineEvent
from opsportal.errors import Conflict
from tests.incidents.factories import declare

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgresql,  # row locks need PostgreSQL; deselected on SQLite, always run in CI
]


def race(fn, actors, incident_pk):
    barrier = threading.Barrier(len(actors))
    results: list = []

    def run(actor):
        try:
            barrier.wait(timeout=10)
            fn(incident=Incident.objects.get(pk=incident_pk), actor=actor)
            results.append(("ok", actor.pk))
        except Conflict as exc:
            results.append(("conflict", exc.message))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_two_responders_acknowledge_at_once(responder, responder2, attempt):
    incident = declare(actor=None)
    results = race(services.acknowledge, [responder, responder2], incident.pk)
    assert sorted(r[0] for r in results) == ["conflict", "ok"]
    winner_pk = next(r[1] for r in results if r[0] == "ok")
    winner = responder if winner_pk == responder.pk else responder2
    conflict = next(r[1] for r in results if r[0] == "conflict")
    assert f"already acknowledged by {winner}" in conflict
    incident.refresh_from_db()
    assert incident.acknowledged_by == winner
    assert incident.commander == winner
    assert TimelineEvent.objects.filter(incident=incident, kind="acknowledged").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_responders_resolve_at_once(responder, responder2, attempt):
    incident = declare(actor=None)
    services.acknowledge(incident=incident, actor=responder)
    results = race(services.resolve, [responder, responder2], incident.pk)
    assert sorted(r[0] for r in results) == ["conflict", "ok"]
    conflict = next(r[1] for r in results if r[0] == "conflict")
    assert "is already resolved by" in conflict
    assert (
        TimelineEvent.objects.filter(incident=incident, kind="status_changed", data__to="resolved").count()
        == 1
    )
