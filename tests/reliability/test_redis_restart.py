"""A Redis restart while a worker holds a scheduled (countdown) escalation step loses nothing.

Real PostgreSQL (the test database), a private redis-server killed and started again on the
same port, a real Celery worker (prefork, as in production) and a real beat running the page
auditor. The worker must survive the restart (celery 5.7 + kombu 5.7 crashed here with
``AttributeError: 'NoneType' object has no attribute 'hostname'``), and the step it held -
gone with the restarted Redis - must run exactly once, at most the auditor's grace plus one
auditor period late, with every notification delivered exactly once.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
import redis
import time_machine
from django.utils import timezone

from devtools.embedded_redis import RedisServer
from notifications.models import Notification
from oncall import services
from oncall import tasks as oncall_tasks
from oncall.models import PageEvent
from opsportal import periodic, workers
from tests.celery_worker import publishing_to, running_beat, running_worker, wait_for, worker_database_url
from tests.factories import TeamFactory, UserFactory
from tests.notifications.factories import WebhookMethodFactory
from tests.oncall.factories import PolicyFactory, level

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgresql,  # worker and beat subprocesses cannot open SQLite's in-memory database
    pytest.mark.django_db(transaction=True),
]

GRACE = 3  # ONCALL_AUDIT_GRACE_SECONDS in the worker
AUDIT_EVERY = 2  # the auditor's beat period, seconds
LATENCY = 3  # beat tick -> broker -> worker -> committed step, on a loaded 2-core machine
DUE_IN = 10  # seconds from opening the page to its level-2 step


def _log(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _tail(path, lines: int = 40) -> str:
    return "\n".join(_log(path).splitlines()[-lines:])


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(workdir=str(tmp_path)).start()
    yield server
    server.close()


@pytest.mark.parametrize("outage", ["redis-restart", "connections-dropped"])
def test_a_broker_outage_with_a_pending_escalation_step_loses_and_repeats_nothing(
    outage, redis_server, httpserver, tmp_path
):
    """redis-restart: Redis killed and started again, empty - the step the worker held is
    gone, and the auditor runs it. connections-dropped: Redis stays up but every client
    connection is cut (a failover, a proxy's idle timeout) - the worker puts the step back in
    the queue as it closes the dead connection, and it runs on time."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    team = TeamFactory()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for user in (alice, bob):
        WebhookMethodFactory(user=user, url=httpserver.url_for("/hook"))
    policy = PolicyFactory(team=team)
    level(policy, 1, delay=1, users=[alice])
    level(policy, 2, delay=1, users=[bob])
    auditor = next(s for s in oncall_tasks.PERIODIC_TASKS if s.task == "oncall.audit_pages")
    periodic.sync([dataclasses.replace(auditor, every=timedelta(seconds=AUDIT_EVERY))])

    env = {
        "DATABASE_URL": worker_database_url(),
        "ONCALL_AUDIT_GRACE_SECONDS": str(GRACE),
        "WORKER_HEARTBEAT_SECONDS": "1",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    broker = redis.Redis.from_url(redis_server.url)

    def worker_alive() -> bool:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}:\n{_tail(worker_log)}"
        return True

    def beating() -> bool:  # its heartbeat, in whichever Redis is running now
        return workers.liveness(broker, ["critical"])["critical"].alive == 1

    with (
        running_worker(
            "critical", env, broker_url=redis_server.url, pool="prefork", log_path=worker_log
        ) as worker,
        running_beat(env, broker_url=redis_server.url, log_path=beat_log),
    ):
        wait_for(lambda: worker_alive() and " ready." in _log(worker_log) and beating(), timeout=40)

        # Level 1 now; level 2 due in DUE_IN seconds: a countdown task the worker holds (its
        # ETA computed from the traveled clock, so the one-minute level delay is 10 s away).
        with (
            publishing_to(redis_server.url),
            time_machine.travel(timezone.now() - timedelta(seconds=60 - DUE_IN)),
        ):
            page = services.open_page(
                title="Checkout 5xx", summary="", url="", policy=policy, dedup_key="restart"
            )
        page.refresh_from_db()
        due = page.next_step_at
        wait_for(lambda: any(b"oncall.escalate_page" in v for v in broker.hvals("unacked")), timeout=15)
        wait_for(lambda: len(httpserver.log) == 1, timeout=15)  # alice's level-1 page delivered
        assert timezone.now() < due - timedelta(seconds=3), "too slow to restart Redis before the step is due"

        if outage == "redis-restart":
            redis_server.kill()  # a Redis crash: every connection and key gone
            time.sleep(1)
            redis_server.start()  # back on the same port, empty
        else:
            assert broker.client_kill_filter(_type="normal", skipme=True) >= 2  # worker and beat

        wait_for(lambda: worker_alive() and _log(worker_log).count("Connected to ") >= 2, timeout=30)
        wait_for(lambda: worker_alive() and beating(), timeout=10)  # consuming again, and says so
        wait_for(
            lambda: worker_alive() and PageEvent.objects.filter(page=page, kind="escalated").exists(),
            timeout=DUE_IN + GRACE + AUDIT_EVERY + 30,
        )
        wait_for(lambda: len(httpserver.log) == 2, timeout=20)  # bob's level-2 page delivered
        time.sleep(AUDIT_EVERY + 1)  # one more auditor pass: it must find nothing left to do
        worker_alive()

    escalated = PageEvent.objects.get(page=page, kind="escalated")
    late = (escalated.at - due).total_seconds()
    resumed_by_auditor = f"auditor resumed overdue page {page.pk}" in _log(worker_log)
    if outage == "redis-restart":
        assert resumed_by_auditor
        assert 0 <= late <= GRACE + AUDIT_EVERY + LATENCY, f"level 2 ran {late:.1f} s after it was due"
    else:
        assert not resumed_by_auditor
        assert 0 <= late <= LATENCY, f"level 2 ran {late:.1f} s after it was due"
    notified = list(
        PageEvent.objects.filter(page=page, kind="notified").values_list("level", "user__username")
    )
    assert notified == [(1, "alice"), (2, "bob")]

    rows = Notification.objects.filter(event_key__startswith=f"oncall:page:{page.pk}:", channel="webhook")
    assert sorted(rows.values_list("recipient__username", "status")) == [("alice", "sent"), ("bob", "sent")]
    deliveries = [request.headers["X-OpsPortal-Delivery"] for request, _response in httpserver.log]
    assert sorted(deliveries) == sorted(rows.values_list("idempotency_key", flat=True))  # each once
    assert "Unrecoverable error" not in _log(worker_log)
    broker.close()
