"""End to end: the dispatcher tick through the real broker and a real worker, the demo data,
and a probe against the portal's own /healthz served by a live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from probes import services, tasks
from probes.models import MaintenanceWindow, Probe, ProbeResult
from tests.celery_worker import running_worker, wait_for, worker_database_url
from tests.probes.factories import ProbeFactory


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql  # a worker subprocess cannot open SQLite's in-memory test database
def test_dispatch_tick_runs_probes_through_the_real_broker_and_worker(httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    probe = ProbeFactory(
        url=httpserver.url_for("/healthz"), next_run_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    with running_worker(queues="probes", extra_env={"DATABASE_URL": worker_database_url()}):
        tasks.dispatch.delay()
        wait_for(lambda: ProbeResult.objects.filter(probe=probe).exists(), timeout=40)
    probe.refresh_from_db()
    assert probe.state == "up"
    assert probe.lease_token is None
    assert probe.results.get().status_code == 200


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_seed_is_idempotent():
    call_command("seed_demo")
    counts = (Probe.objects.count(), MaintenanceWindow.objects.count())
    call_command("seed_demo")
    assert (Probe.objects.count(), MaintenanceWindow.objects.count()) == counts == (5, 1)
    billing = Probe.objects.get(name="Billing event processing")
    assert billing.state == "up"
    assert billing.runbook is not None
    task = PeriodicTask.objects.get(task="probes.demo_heartbeat")
    assert str(billing.uuid) in task.kwargs
    assert tasks.demo_heartbeat(str(billing.uuid)) is True
    billing.refresh_from_db()
    assert billing.last_duration_ms is not None
    assert set(Probe.objects.values_list("kind", flat=True)) == {"http", "tls", "tcp", "heartbeat"}


@pytest.mark.django_db(transaction=True)
def test_probe_against_the_portals_own_healthz(live_server):
    """With OUTBOUND_ALLOWED_NETWORKS unset, DEBUG allows loopback: the demo probe of /healthz
    works; production refuses it."""
    probe = ProbeFactory(url=f"{live_server.url}/healthz", json_path="status", json_expected="ok",
                         next_run_at=datetime.now(UTC) - timedelta(seconds=1))  # fmt: skip
    with override_settings(DEBUG=True, OUTBOUND_ALLOWED_NETWORKS=None):
        report = services.dispatch_due(enqueue=False)
        for ids, token in report.batches:
            services.run_batch(probe_ids=ids, lease_token=token)
    probe.refresh_from_db()
    assert (probe.state, probe.last_status_code, probe.last_error) == ("up", 200, "")
    with override_settings(DEBUG=False, OUTBOUND_ALLOWED_NETWORKS=None):  # production default: refused
        Probe.objects.filter(pk=probe.pk).update(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        for ids, token in services.dispatch_due(enqueue=False).batches:
            services.run_batch(probe_ids=ids, lease_token=token)
    assert (
        "a loopback address, not in OUTBOUND_ALLOWED_NETWORKS"
        in probe.results.order_by("-checked_at").first().error
    )


@pytest.mark.django_db(transaction=True)
def test_success_pings_outside_a_transaction(client):
    """The ping view runs in autocommit: on PostgreSQL the one-statement fast path (with its
    asynchronous commit) handles repeat pings; either way every ping is a result row."""
    from tests.probes.factories import HeartbeatFactory

    probe = HeartbeatFactory(period_seconds=600, grace_seconds=60)
    for _ in range(3):
        assert client.get(f"/ping/{probe.uuid}").content == b"OK"
    probe.refresh_from_db()
    assert probe.state == "up"
    assert probe.consecutive_successes == 3
    assert probe.results.filter(source="ping").count() == 3
    assert probe.next_run_at == probe.last_ping_at + timedelta(seconds=660)
