"""Races on PostgreSQL with real threads: a pipeline retrying a start (same key) makes one
record; two finishes of one deployment give one outcome and one 409."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from deployments import services
from deployments.models import Deployment
from tests.concurrency import run_concurrently
from tests.factories import ServiceFactory, UserFactory


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_with_one_key_make_one_record():
    pipeline = UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])
    service = ServiceFactory()
    started = timezone.now() - timedelta(minutes=1)
    results = run_concurrently(
        [
            lambda v=v: services.report_start(
                actor=pipeline, client_key="run-7", services=[service], version=f"1.{v}", started_at=started
            )
            for v in range(6)
        ]
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(1 for _d, created in results if created) == 1
    assert len({d.pk for d, _created in results}) == 1
    assert Deployment.objects.count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_finishes_give_one_outcome_and_conflicts():
    pipeline = UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])
    deployment, _ = services.report_start(
        actor=pipeline, client_key="run-8", services=[ServiceFactory()], version="1.0",
        started_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    outcomes = ["succeeded", "failed", "rolled_back", "succeeded"]
    results = run_concurrently(
        [
            lambda o=o: services.report_finish(actor=pipeline, deployment=deployment.pk, outcome=o)
            for o in outcomes
        ]
    )
    won = [r for r in results if isinstance(r, Deployment)]
    lost = [r for r in results if isinstance(r, services.AlreadyFinished)]
    assert len(won) == 1, results
    assert len(lost) == 3, results
    deployment.refresh_from_db()
    assert deployment.status == won[0].status
    assert all(conflict.deployment.status == won[0].status for conflict in lost)
