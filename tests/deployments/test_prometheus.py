"""Prometheus: opsportal_deployments_total{service,outcome} and
opsportal_change_failure_ratio{service}, parsed with prometheus_client's own text parser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts import roles
from tests.deployments.factories import deploy
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@override_settings(METRICS_TOKEN="scrape-me", METRICS_ALLOWED_NETWORKS=[])
def test_deployment_counters_and_change_failure_ratio(client):
    pipeline = UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])
    checkout, search = ServiceFactory(slug="checkout-api"), ServiceFactory(slug="search")
    now = timezone.now()
    for i, outcome in enumerate(["succeeded", "succeeded", "failed", "rolled_back"]):
        deploy(actor=pipeline, service=checkout, started_at=now - timedelta(days=1, hours=i), outcome=outcome)
    deploy(actor=pipeline, service=checkout, started_at=now - timedelta(days=40), outcome="failed")  # older
    deploy(actor=pipeline, service=search, started_at=now - timedelta(hours=2))
    r = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert r.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(r.content.decode())}
    totals = {(s.labels["service"], s.labels["outcome"]): s.value for s in families["opsportal_deployments"].samples
              if s.name == "opsportal_deployments_total"}  # fmt: skip
    assert totals == {
        ("checkout-api", "succeeded"): 2, ("checkout-api", "failed"): 2, ("checkout-api", "rolled_back"): 1,
        ("search", "succeeded"): 1,
    }  # fmt: skip
    ratio = {s.labels["service"]: s.value for s in families["opsportal_change_failure_ratio"].samples}
    assert ratio == {"checkout-api": 0.5, "search": 0.0}
