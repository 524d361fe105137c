from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from runbooks import selectors, services
from runbooks.models import Runbook
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _states(now):
    """Freshness of every runbook according to the selectors (the indexed path)."""
    found = {}
    for state in Runbook.Freshness.values:
        for rb in Runbook.objects.filter(selectors.freshness_q(state, now=now)):
            assert rb.pk not in found, f"{rb} matches two states"
            found[rb.pk] = state
    return found


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(0), Runbook.Freshness.FRESH),
        (timedelta(days=90) - SECOND, Runbook.Freshness.FRESH),
        (timedelta(days=90), Runbook.Freshness.REVIEW_DUE),
        (timedelta(days=180) - SECOND, Runbook.Freshness.REVIEW_DUE),
        (timedelta(days=180), Runbook.Freshness.STALE),
        (timedelta(days=1000), Runbook.Freshness.STALE),
    ],
)
def test_review_clock_boundaries_default_interval(responder, offset, expected):
    rb = RunbookFactory()
    assert rb.review_interval_days == 90
    with time_machine.travel(T0, tick=False):
        rb = services.record_test(runbook=rb, actor=responder, evidence_note="game day")
    now = T0 + offset
    assert rb.freshness_at(now) == expected
    assert _states(now) == {rb.pk: expected}


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(days=7) - SECOND, Runbook.Freshness.NEVER_TESTED),
        (timedelta(days=7), Runbook.Freshness.REVIEW_DUE),
        (timedelta(days=14) - SECOND, Runbook.Freshness.REVIEW_DUE),
        (timedelta(days=14), Runbook.Freshness.STALE),
    ],
)
def test_never_tested_and_custom_interval(responder, offset, expected):
    rb = RunbookFactory(review_interval_days=7)
    rb = services.mark_reviewed(runbook=rb, actor=responder, at=T0)
    assert rb.last_tested_at is None
    assert rb.review_due_at == T0 + timedelta(days=7)
    assert rb.stale_at == T0 + timedelta(days=14)
    assert rb.freshness_at(T0 + offset) == expected
    assert _states(T0 + offset) == {rb.pk: expected}


def test_unreviewed_runbook_counts_from_creation():
    with time_machine.travel(T0, tick=False):
        rb = RunbookFactory()
    assert rb.last_reviewed_at is None
    assert rb.review_due_at == T0 + timedelta(days=90)
    assert rb.freshness_at(T0) == Runbook.Freshness.NEVER_TESTED
    assert rb.freshness_at(T0 + timedelta(days=180)) == Runbook.Freshness.STALE


def test_review_restarts_the_clock_and_interval_change_moves_it(responder):
    with time_machine.travel(T0, tick=False):
        rb = RunbookFactory()
    later = T0 + timedelta(days=100)
    assert rb.freshness_at(later) == Runbook.Freshness.REVIEW_DUE
    with time_machine.travel(later, tick=False):
        rb = services.mark_reviewed(runbook=rb, actor=responder, note="still right")
        assert rb.freshness == Runbook.Freshness.NEVER_TESTED
        rb = services.save_runbook(actor=responder, runbook=rb, review_interval_days=30)
    assert rb.review_due_at == later + timedelta(days=30)
    assert Runbook.objects.get(pk=rb.pk).stale_at == later + timedelta(days=60)


def test_selectors_for_reminders_and_readiness(responder):
    with time_machine.travel(T0, tick=False):
        fresh = services.record_test(
            runbook=RunbookFactory(title="A fresh"), actor=responder, evidence_note="x"
        )
        untested = RunbookFactory(title="B untested")
    with time_machine.travel(T0 - timedelta(days=100), tick=False):
        due = RunbookFactory(title="C due")
    with time_machine.travel(T0 - timedelta(days=300), tick=False):
        old = RunbookFactory(title="D stale")
    with time_machine.travel(T0 - timedelta(days=200), tick=False):
        older_due_first = RunbookFactory(title="E stale too")
    now = T0 + timedelta(days=1)
    assert list(selectors.review_due(now=now)) == [due]
    assert list(selectors.stale(now=now)) == [old, older_due_first]
    assert list(selectors.needing_review(now=now)) == [old, older_due_first, due]
    assert list(selectors.never_tested()) == [untested, due, old, older_due_first]
    assert list(selectors.stale(now=now, limit=1)) == [old]
    assert fresh not in selectors.needing_review(now=now)
