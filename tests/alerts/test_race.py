"""Races decided by PostgreSQL: 20 identical triggers at the same moment, through the
ingestion view in 20 threads, make one alert (counted 20 times), one group and one page."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts.models import Alert, AlertGroup
from alerts.services import integrations
from oncall.models import Page
from tests.alerts.conftest import am_payload
from tests.concurrency import raised, run_concurrently


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_triggers_one_alert_one_page(world):
    integration, key = integrations.create_integration(
        actor=None, service=world["service"], name="Prometheus", kind="alertmanager"
    )
    body = am_payload(fingerprint="same")

    def fire():
        return Client().post(f"/integrations/{key}/alertmanager", data=body, content_type="application/json")

    results = run_concurrently([fire] * 20)
    assert raised(results) == []
    assert [r.status_code for r in results] == [202] * 20
    alert = Alert.objects.get(integration=integration)
    assert alert.occurrences == 20
    assert AlertGroup.objects.filter(integration=integration).count() == 1
    assert Page.objects.filter(service=world["service"]).count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_distinct_alerts_same_group_one_page(world):
    integration, key = integrations.create_integration(
        actor=None, service=world["service"], name="Prometheus", kind="alertmanager"
    )

    def fire(n):
        body = am_payload(fingerprint=f"fp-{n}")
        return lambda: Client().post(
            f"/integrations/{key}/alertmanager", data=body, content_type="application/json"
        )

    results = run_concurrently([fire(n) for n in range(20)])
    assert [r.status_code for r in results] == [202] * 20
    assert Alert.objects.filter(integration=integration).count() == 20
    group = AlertGroup.objects.get(integration=integration)
    assert group.alert_count == 20
    assert Page.objects.filter(service=world["service"]).count() == 1
