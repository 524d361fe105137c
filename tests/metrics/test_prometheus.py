"""/metrics: Prometheus text exposition behind a bearer token or an allowed network."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Notification
from oncall.models import Page
from probes.models import Probe
from tests.factories import ServiceFactory, UserFactory
from tests.metrics import factories
from tests.probes.factories import ProbeFactory

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return TOKEN


def scrape(client, **headers):
    return client.get("/metrics", **headers)


def samples(response) -> dict:
    families = list(text_string_to_metric_families(response.content.decode()))
    out = {}
    for family in families:
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_not_configured_is_404(db, client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert scrape(client).status_code == 404
    assert scrape(client, HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Token {TOKEN}", "Bearer", f"bearer {TOKEN}x", "Basic Zm9vOmJhcg=="]
)
def test_wrong_or_missing_token_is_403(db, client, token, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    assert scrape(client, **kwargs).status_code == 403


def test_allowed_network(db, client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert scrape(client, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape(client, REMOTE_ADDR="::1").status_code == 200
    assert scrape(client, REMOTE_ADDR="192.168.1.5").status_code == 403
    assert scrape(client, REMOTE_ADDR="not-an-ip").status_code == 403


def test_token_or_network(db, client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert scrape(client, REMOTE_ADDR="192.168.1.5", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert scrape(client, REMOTE_ADDR="10.0.0.9").status_code == 200
    assert scrape(client, REMOTE_ADDR="192.168.1.5").status_code == 403


def test_only_get(db, client, token):
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 405


def test_gauges_parse_and_count(db, client, token):
    now = timezone.now()
    boss = UserFactory(username="ic")
    service = ServiceFactory()
    factories.create(detected_at=now - timedelta(hours=1), ttd=5, level=1)
    factories.create(detected_at=now - timedelta(hours=2), ttd=5, tta=1, level=1, commander=boss)
    factories.create(detected_at=now - timedelta(hours=3), ttd=5, level=3)
    factories.create(detected_at=now - timedelta(hours=3), ttd=5, level=3, drill=True)  # never counted
    factories.create(
        detected_at=now - timedelta(hours=9), ttd=5, tta=1, ttm=5, ttr=60, level=2, commander=boss
    )
    ProbeFactory(service=service, state=Probe.State.DOWN)
    ProbeFactory(service=service, state=Probe.State.DOWN)
    ProbeFactory(service=service, state=Probe.State.DEGRADED)
    ProbeFactory(service=service, state=Probe.State.UP)
    for i, status in enumerate(["triggered", "exhausted", "acknowledged", "resolved"]):
        Page.objects.create(title=f"page {i}", dedup_key=f"k{i}", status=status, service=service)
    for i, status in enumerate(["pending", "pending", "sending", "failed", "sent"]):
        Notification.objects.create(
            idempotency_key=f"key-{i}", event_key=f"e{i}", channel="email", kind="page", address="a@example.com",
            template="t", subject="s", body="b", status=status, next_attempt_at=now,
            lease_expires_at=now if status == "sending" else None, sent_at=now if status == "sent" else None,
        )  # fmt: skip

    response = scrape(client, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(response)
    assert got[("opsportal_incidents_open", (("severity", "SEV-1"),))] == 2
    assert got[("opsportal_incidents_open", (("severity", "SEV-2"),))] == 0
    assert got[("opsportal_incidents_open", (("severity", "SEV-3"),))] == 1
    assert got[("opsportal_probes", (("state", "down"),))] == 2
    assert got[("opsportal_probes", (("state", "degraded"),))] == 1
    assert got[("opsportal_probes", (("state", "up"),))] == 1
    assert got[("opsportal_probes", (("state", "paused"),))] == 0
    assert got[("opsportal_pages_awaiting_ack", ())] == 2
    assert got[("opsportal_action_items_overdue", ())] == 0
    assert got[("opsportal_postmortems_overdue", ())] == 0
    assert got[("opsportal_escalations_awaiting_ack", ())] == 0
    assert got[("opsportal_notification_outbox_depth", (("status", "pending"),))] == 2
    assert got[("opsportal_notification_outbox_depth", (("status", "sending"),))] == 1
    assert got[("opsportal_notification_failures", (("window", "24h"),))] == 1
    assert got[("opsportal_notification_failures", (("window", "all"),))] == 1
    assert got[("opsportal_notification_oldest_pending_age_seconds", ())] >= 0


def test_overdue_action_items_gauge(db, client, token, manager):
    from tests.postmortems.factories import item, postmortem

    pm = postmortem(actor=manager)
    late = item(pm, manager, title="late")
    item(pm, manager, title="on time")
    type(late).objects.filter(pk=late.pk).update(due_date=timezone.now().date() - timedelta(days=3))
    got = samples(scrape(client, HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert got[("opsportal_action_items_overdue", ())] == 1
