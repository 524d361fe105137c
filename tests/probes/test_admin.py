"""Admin: changelist badges/uptime/sparklines at constant queries, the change page, actions,
form errors from the services, the runbook warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from probes.models import Probe, ProbeResult
from tests.factories import ServiceFactory
from tests.probes.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:probes_probe_changelist")


def _with_results(probe, n=5):
    now = datetime.now(UTC)
    ProbeResult.objects.bulk_create(
        ProbeResult(
            probe=probe,
            checked_at=now - timedelta(minutes=i),
            outcome="up" if i else "down",
            ok=bool(i),
            latency_ms=10.0 + i,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("rows", [1, 40])
def test_changelist_constant_queries(manager_client, django_assert_num_queries, rows):
    for i in range(rows):
        probe = ProbeFactory(state=Probe.State.UP if i % 2 else Probe.State.DOWN,
                             cert_expires_at=datetime.now(UTC) + timedelta(days=5 + i))  # fmt: skip
        _with_results(probe)
    # session, user, user permissions, group permissions, the owner-team filter's choices,
    # COUNT (filtered; the full count is off), the page rows with service and runbook joined,
    # 24 h uptime (one grouped query), sparklines (one window-function query).
    with django_assert_num_queries(9):
        response = manager_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="op-spark"') == rows
    assert html.count("op-badge-red") >= rows // 2  # down badges
    assert "80.00%" in html  # 4 of 5 results ok
    assert html.count(">missing<") == rows  # runbook column


def test_change_page_shows_results_events_and_warns_without_runbook(manager_client):
    probe = ProbeFactory(state=Probe.State.UP)
    _with_results(probe)
    response = manager_client.get(reverse("admin:probes_probe_change", args=[probe.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Recent results" in html
    assert "<th>Latency</th>" in html
    assert "This probe has no runbook" in html
    assert "Uptime 24h: 80.00%" in html


def test_heartbeat_change_page_shows_ping_urls(manager_client):
    probe = HeartbeatFactory()
    html = manager_client.get(reverse("admin:probes_probe_change", args=[probe.pk])).content.decode()
    assert f"http://localhost:8000/ping/{probe.uuid}/start" in html


def test_add_probe_in_admin_validates_through_services(manager_client):
    service = ServiceFactory()
    data = {
        "name": "DB port", "service": service.pk, "kind": "tcp", "host": "db.example.com", "port": "",
        "interval_seconds": 60, "timeout_seconds": 5, "failure_threshold": 2, "success_threshold": 1,
        "method": "GET", "expected_statuses": "200-399", "warn_days": 21, "critical_days": 7,
        "cron_timezone": "UTC", "grace_seconds": 300, "headers": "",
    }  # fmt: skip
    response = manager_client.post(reverse("admin:probes_probe_add"), data)
    assert response.status_code == 200
    assert "TCP probes need a port." in response.content.decode()
    response = manager_client.post(reverse("admin:probes_probe_add"), {**data, "port": 5432})
    assert response.status_code == 302
    probe = Probe.objects.get(name="DB port")
    assert probe.next_run_at is not None


def test_admin_headers_are_masked_and_kept(manager_client):
    probe = ProbeFactory(headers={"Authorization": "Bearer abcdefghijklmnop"})
    url = reverse("admin:probes_probe_change", args=[probe.pk])
    html = manager_client.get(url).content.decode()
    assert "abcdefghijklmnop" not in html
    assert "Authorization: Bear********" in html
    data = {
        "name": probe.name, "service": probe.service_id, "kind": "http", "url": probe.url,
        "interval_seconds": 60, "timeout_seconds": 5, "failure_threshold": 2, "success_threshold": 1,
        "method": "GET", "expected_statuses": "200-399", "warn_days": 21, "critical_days": 7,
        "cron_timezone": "UTC", "grace_seconds": 300, "follow_redirects": "on",
        "headers": "Authorization: Bear********\nX-Trace: 1",
    }  # fmt: skip
    assert manager_client.post(url, data).status_code == 302
    probe.refresh_from_db()
    assert probe.headers == {"Authorization": "Bearer abcdefghijklmnop", "X-Trace": "1"}


def test_pause_resume_run_now_actions(manager_client, django_capture_on_commit_callbacks):
    probes = ProbeFactory.create_batch(2)
    ids = [p.pk for p in probes]
    manager_client.post(CHANGELIST, {"action": "pause", "_selected_action": ids})
    assert set(Probe.objects.values_list("state", flat=True)) == {"paused"}
    response = manager_client.post(CHANGELIST, {"action": "pause", "_selected_action": ids}, follow=True)
    assert "already paused" in response.content.decode()
    manager_client.post(CHANGELIST, {"action": "resume", "_selected_action": ids})
    assert set(Probe.objects.values_list("state", flat=True)) == {"new"}
    with django_capture_on_commit_callbacks() as callbacks:
        manager_client.post(CHANGELIST, {"action": "run_now", "_selected_action": ids})
    assert len(callbacks) == 2
    assert all(p.lease_token for p in Probe.objects.all())


def test_release_lead_sees_probes_but_has_no_actions(client, release_lead):
    ProbeFactory()
    client.force_login(release_lead)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert b'value="pause"' not in response.content


def test_alert_and_maintenance_admin_pages(manager_client):
    assert manager_client.get(reverse("admin:probes_probealert_changelist")).status_code == 200
    service = ServiceFactory()
    response = manager_client.post(
        reverse("admin:probes_maintenancewindow_add"),
        {"service": service.pk, "reason": "upgrade", "starts_at_0": "2026-03-01", "starts_at_1": "10:00:00",
         "recurrence_timezone": "UTC"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "One-off windows need an end." in response.content.decode()
