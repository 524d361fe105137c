"""Races with real threads on PostgreSQL row locks (SQLite serialises writers: not run there)."""

import pytest

from accounts import roles
from incidents.defaults import ensure_severities
from opsportal.errors import ServiceError
from postmortems import services
from postmortems.models import REVIEW_CHECKLIST_KEYS, Postmortem
from tests.concurrency import run_concurrently
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.postmortems import factories as f


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_people_start_the_same_postmortem():
    ensure_severities()  # an earlier transactional test may have flushed the seeded rows
    a = UserFactory(username="a", roles=[roles.RESPONDERS])
    b = UserFactory(username="b", roles=[roles.RESPONDERS])
    incident = f.resolved_incident(actor=a, service=ServiceFactory(owner_team=TeamFactory()))
    results = run_concurrently([lambda: services.start_postmortem(incident=incident.pk, actor=a),
                                lambda: services.start_postmortem(incident=incident.pk, actor=b)])  # fmt: skip
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Postmortem"]
    assert Postmortem.objects.filter(incident=incident).count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approve_at_once():
    ensure_severities()
    author = UserFactory(username="author", roles=[roles.RESPONDERS])
    m1 = UserFactory(username="m1", roles=[roles.MANAGERS])
    m2 = UserFactory(username="m2", roles=[roles.MANAGERS])
    pm = f.postmortem(actor=author, incident=f.resolved_incident(actor=author, service=ServiceFactory()))
    f.ready_for_review(pm, author)
    services.submit_for_review(postmortem=pm, actor=author)
    results = run_concurrently([lambda: services.approve(postmortem=pm.pk, actor=m1, checklist=REVIEW_CHECKLIST_KEYS),
                                lambda: services.approve(postmortem=pm.pk, actor=m2, checklist=REVIEW_CHECKLIST_KEYS)])  # fmt: skip
    conflicts = [r for r in results if isinstance(r, ServiceError)]
    assert len(conflicts) == 1
    assert "Already approved" in conflicts[0].message
    assert Postmortem.objects.get(pk=pm.pk).history.filter(approved_at__isnull=False).count() == 1
