"""Worker liveness: every worker process beats per queue it consumes (Redis, independent of
beat); /healthz, /healthz/workers, /metrics and ``manage.py workers`` report it."""

from __future__ import annotations

import json
import os
import signal

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from opsportal import workers
from opsportal.celery import app
from tests.celery_worker import running_worker, wait_for

QUEUES = ("critical", "probes", "default")


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*(workers.key(q) for q in QUEUES))
    yield client
    client.delete(*(workers.key(q) for q in QUEUES))
    client.close()


def _redis_now(client) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def _dead(client, queue: str, *, hostname: str, pid: int, seconds_ago: float) -> None:
    """A worker that beat for the last time ``seconds_ago`` (killed, machine gone)."""
    client.zadd(workers.key(queue), {workers.member(hostname, pid): _redis_now(client) - seconds_ago})


# --- the record ----------------------------------------------------------------------------


def test_a_beat_is_recorded_per_queue_and_read_back(broker):
    workers.record(broker, member=workers.member("critical@web1", 4242), queues=["critical", "default"])
    report = workers.liveness(broker, QUEUES)
    assert report["critical"].alive == 1
    assert report["default"].alive == 1
    assert report["critical"].last_heartbeat_age < 2
    assert [(w.hostname, w.pid, w.alive) for w in report["critical"].workers] == [
        ("critical@web1", 4242, True)
    ]
    assert report["probes"].alive == 0
    assert report["probes"].last_heartbeat_age is None  # never seen
    assert 0 < broker.ttl(workers.key("critical")) <= workers.RETENTION_SECONDS


def test_a_worker_past_the_stale_window_is_dead_but_its_age_is_kept(broker, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 30
    _dead(broker, "critical", hostname="critical@web1", pid=1, seconds_ago=95)
    _dead(broker, "critical", hostname="critical@web2", pid=2, seconds_ago=40)
    report = workers.liveness(broker, QUEUES)["critical"]
    assert report.alive == 0
    assert 39 < report.last_heartbeat_age < 42  # the newest beat, even a stale one
    assert [w.alive for w in report.workers] == [False, False]


def test_beats_older_than_the_retention_are_pruned(broker):
    _dead(broker, "critical", hostname="gone@old", pid=1, seconds_ago=workers.RETENTION_SECONDS + 5)
    workers.record(broker, member=workers.member("critical@web1", 7), queues=["critical"])
    assert [w.hostname for w in workers.liveness(broker, QUEUES)["critical"].workers] == ["critical@web1"]


def test_withdraw_removes_a_worker_at_once(broker):
    me = workers.member("critical@web1", 7)
    workers.record(broker, member=me, queues=["critical", "probes"])
    workers.withdraw(broker, member=me, queues=["critical", "probes"])
    report = workers.liveness(broker, QUEUES)
    assert (report["critical"].alive, report["probes"].alive) == (0, 0)


def test_the_heartbeat_is_a_consumer_bootstep():
    assert workers.Heartbeat in app.steps["consumer"]


# --- /healthz and /healthz/workers ---------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_each_queue_and_stays_200_without_workers(client, broker):
    workers.record(broker, member=workers.member("critical@web1", 11), queues=["critical"])
    _dead(broker, "probes", hostname="probes@web2", pid=12, seconds_ago=600)
    response = client.get("/healthz")
    assert response.status_code == 200  # a web node that can serve stays in the load balancer
    body = response.json()
    assert body["status"] == "ok"
    report = body["workers"]
    assert report["ok"] is False
    assert report["stale_after_seconds"] == settings.WORKER_HEARTBEAT_STALE_SECONDS
    assert report["queues"]["critical"]["alive"] == 1
    assert report["queues"]["critical"]["last_heartbeat_age_seconds"] < 2
    assert report["queues"]["probes"] == {"alive": 0, "last_heartbeat_age_seconds": pytest.approx(600, abs=2)}
    assert report["queues"]["default"] == {"alive": 0, "last_heartbeat_age_seconds": None}
    assert "web1" not in response.content.decode()  # host names and pids stay off the public check


@pytest.mark.django_db
def test_healthz_workers_is_503_unless_every_queue_has_a_live_worker(client, broker):
    workers.record(broker, member=workers.member("all@web1", 11), queues=["critical", "probes"])
    response = client.get("/healthz/workers")
    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert response["Cache-Control"].startswith("max-age=0")
    assert client.get("/healthz/workers?queue=critical&queue=probes").status_code == 200

    workers.record(broker, member=workers.member("all@web1", 11), queues=["default"])
    response = client.get("/healthz/workers")
    assert response.status_code == 200
    assert {q: r["alive"] for q, r in response.json()["queues"].items()} == dict.fromkeys(QUEUES, 1)


@pytest.mark.django_db
def test_healthz_workers_refuses_an_unknown_queue(client, broker):
    response = client.get("/healthz/workers?queue=critical&queue=nope")
    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown queue 'nope': one of critical, probes, default."}
    assert client.post("/healthz/workers").status_code == 405


@pytest.mark.django_db
def test_without_a_broker_the_worker_report_says_so(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert client.get("/healthz").json()["workers"] == {"ok": False, "error": "broker unreachable"}
    response = client.get("/healthz/workers")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "error": "ConnectionError"}


def test_stale_window_must_exceed_the_interval(settings):
    from opsportal.checks import check_worker_heartbeat

    settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_HEARTBEAT_STALE_SECONDS = 10, 35
    assert check_worker_heartbeat(None) == []
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 15
    [error] = check_worker_heartbeat(None)
    assert error.id == "opsportal.E002"


# --- /metrics and manage.py workers ---------------------------------------------------------


@pytest.mark.django_db
def test_prometheus_exposes_liveness_per_queue(client, broker, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "t0ken", []
    workers.record(broker, member=workers.member("a@web1", 1), queues=["critical"])
    workers.record(broker, member=workers.member("b@web2", 2), queues=["critical"])
    _dead(broker, "probes", hostname="p@web3", pid=3, seconds_ago=120)
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    got = {
        (s.name, s.labels.get("queue")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("opsportal_worker_")
    }
    assert got[("opsportal_worker_alive", "critical")] == 2
    assert got[("opsportal_worker_alive", "probes")] == 0
    assert got[("opsportal_worker_alive", "default")] == 0
    assert got[("opsportal_worker_heartbeat_age_seconds", "critical")] < 2
    assert got[("opsportal_worker_heartbeat_age_seconds", "probes")] == pytest.approx(120, abs=2)
    assert ("opsportal_worker_heartbeat_age_seconds", "default") not in got  # never seen: no sample


def test_manage_workers_lists_them_and_checks(broker, capsys):
    workers.record(broker, member=workers.member("critical@web1", 4242), queues=["critical"])
    _dead(broker, "probes", hostname="probes@web2", pid=99, seconds_ago=300)
    with pytest.raises(SystemExit) as exit_:
        call_command("workers", "--check")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "critical  1 alive" in out
    assert "critical@web1 pid 4242" in out
    assert "probes@web2 pid 99" in out
    assert "stale" in out
    assert "default   0 alive" in out
    workers.record(broker, member=workers.member("x@web1", 5), queues=["probes", "default"])
    call_command("workers", "--check")  # every queue served: exit 0
    call_command("workers", "--json")
    assert set(json.loads(capsys.readouterr().out.splitlines()[-1])["queues"]) == set(QUEUES)


# --- a real worker ---------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db
def test_a_real_worker_beats_for_its_queues_and_is_reported_dead_once_killed(
    client, broker, settings, tmp_path
):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 3

    def queues() -> dict:
        return {q: r["alive"] for q, r in client.get("/healthz").json()["workers"]["queues"].items()}

    env = {"WORKER_HEARTBEAT_SECONDS": "1"}
    with running_worker("critical,default", env, log_path=tmp_path / "worker.log") as worker:
        wait_for(lambda: queues() == {"critical": 1, "probes": 0, "default": 1}, timeout=40)
        os.kill(worker.pid, signal.SIGKILL)  # no goodbye: only the heartbeat's age tells
        worker.wait()
        wait_for(lambda: queues() == dict.fromkeys(QUEUES, 0), timeout=10)
    report = client.get("/healthz").json()["workers"]["queues"]["critical"]
    assert report["last_heartbeat_age_seconds"] >= 3


@pytest.mark.integration
@pytest.mark.django_db
def test_a_worker_stopped_gracefully_withdraws_at_once(client, broker, tmp_path):
    with running_worker("probes", {"WORKER_HEARTBEAT_SECONDS": "1"}, log_path=tmp_path / "w.log"):
        wait_for(
            lambda: client.get("/healthz").json()["workers"]["queues"]["probes"]["alive"] == 1, timeout=40
        )
    # running_worker stopped it with SIGTERM (warm shutdown)
    assert client.get("/healthz").json()["workers"]["queues"]["probes"] == {
        "alive": 0,
        "last_heartbeat_age_seconds": None,
    }
