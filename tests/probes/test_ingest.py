"""Ping ingestion (probes/ingest.py): the per-process rate windows, and the buffered path that
production runs on PostgreSQL - success pings answered from memory, written in batches by a
flusher thread, in order with the job's start and fail pings, retried after a database error.

The suite's settings write pings before answering (PROBE_PING_FLUSH_MS = 0); the buffered
tests here switch the production default back on and work on committed data, since the
flusher thread has its own database connection.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import close_old_connections, connection, connections
from django.test import Client

from probes import conf, ingest, services
from probes.models import Probe, ProbeAlert
from tests.factories import ServiceFactory
from tests.probes.factories import HeartbeatFactory, ProbeFactory

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# --- rate windows -----------------------------------------------------------------------
def test_rate_window_counts_per_key_and_starts_over_each_window():
    windows = ingest.RateWindows()
    assert [windows.over("a", 2, 60, 120.0) for _ in range(3)] == [False, False, True]
    assert windows.over("b", 2, 60, 121.0) is False  # another URL has its own count
    assert windows.over("a", 2, 60, 180.0) is False  # next window
    assert windows.over("a", 2, 60, 239.9) is False
    assert windows.over("a", 2, 60, 239.9) is True


def test_rate_window_table_is_bounded_and_forgets_old_windows():
    windows = ingest.RateWindows(max_keys=2)
    assert windows.over("a", 5, 60, 0.0) is False
    assert windows.over("b", 5, 60, 1.0) is False
    assert windows.over("c", 5, 60, 2.0) is None  # full of live windows: the caller counts elsewhere
    assert windows.over("a", 5, 60, 3.0) is False  # known keys still count here
    assert windows.over("c", 5, 60, 61.0) is False  # a new window pruned a and b


@pytest.mark.django_db
def test_a_full_table_counts_new_urls_in_redis(settings, monkeypatch):
    settings.PROBE_PING_RATE = "2/m"
    monkeypatch.setattr(ingest, "windows", ingest.RateWindows(max_keys=1))
    with time_machine.travel(T0, tick=False):
        assert ingest.over_limit("first-url") is False
        scan = f"scan-{uuid.uuid4()}"
        assert [ingest.over_limit(scan) for _ in range(3)] == [False, False, True]
    assert len(ingest.windows._hits) == 1  # the scan never entered the table


def test_ping_rate_setting_is_parsed_strictly(settings):
    settings.PROBE_PING_RATE = "100/5m"
    assert conf.ping_rate_limit() == (100, 300)
    settings.PROBE_PING_RATE = "lots"
    with pytest.raises(Exception, match="PROBE_PING_RATE"):
        conf.ping_rate_limit()


# --- the buffered path (PostgreSQL) -----------------------------------------------------
@pytest.fixture
def buffered(settings):
    """The production default: buffer success pings, flush every 50 ms."""
    settings.PROBE_PING_FLUSH_MS = 50
    ingest.windows.clear()
    yield
    ingest.buffer.shutdown()
    ingest.windows.clear()


@pytest.fixture
def manual_flush(settings):
    """Buffered, but the flusher thread sleeps: the test calls flush() itself."""
    settings.PROBE_PING_FLUSH_MS = 600_000
    yield
    ingest.buffer.shutdown(timeout=0)
    ingest.buffer._pending.clear()


def _up_heartbeat(**kw) -> Probe:
    probe = HeartbeatFactory(**{"period_seconds": 600, "grace_seconds": 60, **kw})
    services.record_ping(ping_uuid=probe.uuid)  # the first ping: new -> up
    probe.refresh_from_db()
    return probe


def _wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_success_pings_are_answered_at_once_and_written_by_the_flusher(buffered):
    probes = [_up_heartbeat() for _ in range(3)]
    client = Client()
    sent_at = []
    for probe in probes * 4:
        sent_at.append(datetime.now(UTC))
        assert client.get(f"/ping/{probe.uuid}").content == b"OK"
    answered = datetime.now(UTC)
    assert _wait_for(lambda: sum(p.results.count() for p in probes) == 3 + 12)
    for probe in probes:
        probe.refresh_from_db()
        assert probe.consecutive_successes == 5  # each ping once, none twice
        assert sent_at[0] <= probe.last_ping_at <= answered  # the time it arrived, not the flush
        assert probe.next_run_at == probe.last_ping_at + timedelta(seconds=660)
    assert len(ingest.buffer) == 0


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_fail_after_buffered_successes_keeps_the_order(buffered):
    probe = _up_heartbeat(service=ServiceFactory())
    client = Client()
    client.get(f"/ping/{probe.uuid}")  # buffered
    client.post(f"/ping/{probe.uuid}/fail", "exit 3", content_type="text/plain")  # flushes, then writes
    probe.refresh_from_db()
    assert probe.state == "down"  # at once, when the answer came back
    assert probe.last_error == "the job reported a failure: exit 3"
    sources = list(probe.results.order_by("checked_at", "pk").values_list("source", flat=True))
    assert sources == ["ping", "ping", "fail"]
    assert ProbeAlert.objects.filter(probe=probe, status="open").count() == 1
    client.get(f"/ping/{probe.uuid}")  # a buffered success on a down heartbeat: the locked path
    assert _wait_for(lambda: Probe.objects.get(pk=probe.pk).state == "up")
    assert _wait_for(lambda: ProbeAlert.objects.get(probe=probe).status == "resolved")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_batch_with_repeats_cron_and_unknown_uuids(manual_flush):
    plain, cron = _up_heartbeat(), _up_heartbeat(cron="*/5 * * * *", period_seconds=None)
    network = ProbeFactory()
    with time_machine.travel(T0, tick=False):
        for probe in (plain, cron, plain, plain):
            ingest.accept(probe.uuid, "success")
        ingest.accept(uuid.uuid4(), "success")
        ingest.accept(network.uuid, "success")
    assert plain.results.count() == 1  # only the first ping so far
    assert ingest.buffer.flush() == 4
    plain.refresh_from_db()
    cron.refresh_from_db()
    assert plain.consecutive_successes == 4
    assert plain.results.count() == 4
    assert cron.consecutive_successes == 2
    assert cron.next_run_at == datetime(2026, 3, 2, 12, 6, tzinfo=UTC)
    assert not network.results.exists()
    assert ingest.buffer.flush() == 0


def _terminate_other_backends(pids):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(pids)])


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_keeps_the_pings_for_the_next_flush(manual_flush, caplog):
    probes = [_up_heartbeat() for _ in range(3)]
    for probe in probes:
        ingest.accept(probe.uuid, "success")
    # The flushing thread's connection dies (database restart, failover).
    flusher_pid = []

    def flush_in_thread(results):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            flusher_pid.append(cursor.fetchone()[0])
        ready.set()
        go.wait(5)
        results.append(ingest.buffer.flush())
        close_old_connections()  # what the flusher thread does before each tick
        results.append(ingest.buffer.flush())
        connection.close()

    ready, go, results = threading.Event(), threading.Event(), []
    thread = threading.Thread(target=flush_in_thread, args=(results,))
    thread.start()
    assert ready.wait(5)
    _terminate_other_backends(flusher_pid)
    go.set()
    thread.join(10)
    assert results == [0, 3]  # the failed batch went back to the buffer, then was written once
    assert "ping flush failed, 3 pings kept for the next try" in caplog.text
    assert "ping flush recovered" in caplog.text
    for probe in probes:
        probe.refresh_from_db()
        assert probe.consecutive_successes == 2
        assert probe.results.count() == 2


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_failure_part_way_requeues_only_what_was_not_written(manual_flush):
    """The fast path commits its batch; a heartbeat that needs the locked path then waits on
    a row lock until lock_timeout: only that ping goes back to the buffer."""
    fast = _up_heartbeat()
    down = _up_heartbeat(service=ServiceFactory())
    services.record_ping(ping_uuid=down.uuid, kind="fail")
    ingest.accept(fast.uuid, "success")
    ingest.accept(down.uuid, "success")

    holder = connections.create_connection("default")
    holder.ensure_connection()
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT id FROM probes_probe WHERE id = %s FOR UPDATE", [down.pk])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        assert ingest.buffer.flush() == 0
        assert len(ingest.buffer) == 1
    finally:
        holder.rollback()
        holder.close()
    connection.close()  # the failed statement's session; the next flush reconnects
    assert ingest.buffer.flush() == 1
    fast.refresh_from_db()
    down.refresh_from_db()
    assert fast.consecutive_successes == 2
    assert fast.results.count() == 2
    assert down.state == "up"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_shutdown_writes_what_is_left_and_the_next_ping_restarts_the_thread(manual_flush):
    probe = _up_heartbeat()
    ingest.accept(probe.uuid, "success")
    assert ingest.buffer.shutdown() == 1
    assert probe.results.count() == 2
    ingest.accept(probe.uuid, "success")
    assert ingest.buffer._thread.is_alive()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_lateness_allows_for_the_buffer_only_when_buffering(settings):
    probe = HeartbeatFactory(period_seconds=600, grace_seconds=60)
    with time_machine.travel(T0, tick=False):
        services.record_ping(ping_uuid=probe.uuid)
    deadline = T0 + timedelta(seconds=660)
    settings.PROBE_PING_FLUSH_MS = 100
    assert conf.ping_lateness_margin() == timedelta(seconds=1.1)
    with time_machine.travel(deadline + timedelta(seconds=1), tick=False):
        assert services.mark_late_heartbeats() == 0  # a ping may still be in a buffer
    with time_machine.travel(deadline + timedelta(seconds=1.2), tick=False):
        assert services.mark_late_heartbeats() == 1
    settings.PROBE_PING_FLUSH_MS = 0
    assert conf.ping_lateness_margin() == timedelta(0)
