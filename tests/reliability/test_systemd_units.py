"""deploy/systemd: restart-on-failure, graceful stops and hardening for web, one worker per
queue and beat - and the commands they run work: the units are rendered for this checkout
(its code and virtualenv instead of /opt/opsportal), checked by ``systemd-analyze`` when it is
installed, and their ExecStart lines are run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings

from opsportal import workers
from opsportal.celery import app
from tests.celery_worker import wait_for

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ("opsportal-web.service", "opsportal-worker@.service", "opsportal-beat.service")
QUEUES = [q.name for q in app.conf.task_queues]
VENV = Path(sys.executable).parent.parent  # the virtualenv running these tests


def parse(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value), ...]} (keys repeat; continuations joined)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current, pending = None, ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit: dict, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"{section}.{key}: {found}"
    return found[0]


def environment(unit: dict) -> dict[str, str]:
    env = {}
    for assignment in values(unit, "Service", "Environment"):
        env.update(item.split("=", 1) for item in shlex.split(assignment))
    return env


def exec_start(unit: dict, *, instance: str = "", env: dict | None = None) -> list[str]:
    """ExecStart as argv for this checkout: specifiers and ${VARS} filled in as systemd would."""
    variables = {**environment(unit), **(env or {})}
    line = value(unit, "Service", "ExecStart").replace("%i", instance).replace("%H", socket.gethostname())
    line = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], line)
    line = line.replace("/opt/opsportal/.venv", str(VENV)).replace("/opt/opsportal", str(ROOT))
    return shlex.split(line)


@pytest.fixture(scope="module")
def units() -> dict[str, dict]:
    return {name: parse(UNITS / name) for name in SERVICES}


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_restarts_stops_gracefully_and_is_confined(units, name):
    unit = units[name]
    assert value(unit, "Service", "Restart") == "always"
    assert 1 <= int(value(unit, "Service", "RestartSec")) <= 10
    assert value(unit, "Unit", "StartLimitIntervalSec") == "0"  # never parked in "failed"
    assert value(unit, "Service", "User") == value(unit, "Service", "Group") == "opsportal"
    assert "/etc/opsportal/opsportal.env" in values(unit, "Service", "EnvironmentFile")
    assert value(unit, "Service", "WorkingDirectory") == "/opt/opsportal"
    assert value(unit, "Service", "KillMode") == "mixed"  # SIGTERM to the main process only
    for key, expected in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallFilter": "@system-service",
        "StateDirectory": "opsportal",
    }.items():
        assert value(unit, "Service", key) == expected, key
    assert value(unit, "Unit", "PartOf") == "opsportal.target"
    assert value(unit, "Install", "WantedBy") == "opsportal.target"


def test_stop_timeouts_let_running_work_finish(units):
    assert int(value(units["opsportal-worker@.service"], "Service", "TimeoutStopSec")) >= 300
    web = units["opsportal-web.service"]
    graceful = int(exec_start(web)[exec_start(web).index("--graceful-timeout") + 1])
    assert int(value(web, "Service", "TimeoutStopSec")) > graceful


def test_exec_start_runs_our_entry_points(units):
    web = exec_start(units["opsportal-web.service"])
    assert web[0] == str(VENV / "bin" / "gunicorn")
    assert web[1] == "opsportal.wsgi"
    assert (ROOT / "opsportal" / "wsgi.py").exists()
    assert value(units["opsportal-web.service"], "Service", "Type") == "notify"  # gunicorn sd_notify

    for queue in QUEUES:
        argv = exec_start(units["opsportal-worker@.service"], instance=queue)
        assert argv[:4] == [str(VENV / "bin" / "celery"), "-A", "opsportal", "worker"]
        assert argv[argv.index("-Q") + 1] == queue  # one worker per queue, each of the app's
        assert argv[argv.index("-n") + 1] == f"{queue}@{socket.gethostname()}"
    beat = exec_start(units["opsportal-beat.service"])
    assert beat[:4] == [str(VENV / "bin" / "celery"), "-A", "opsportal", "beat"]
    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat")  # state in the database
    for argv in (web, beat):
        assert Path(argv[0]).exists(), argv[0]


def test_the_documented_instances_are_the_apps_queues():
    doc = (UNITS / "README.md").read_text()
    assert set(re.findall(r"opsportal-worker@(\w+)\.service", doc)) == set(QUEUES)


def _rendered(tmp_path: Path) -> list[Path]:
    """The units with this checkout's paths; the template once per queue."""
    out = []
    for source in [*UNITS.glob("*.service"), *UNITS.glob("*.target")]:
        text = (
            source.read_text().replace("/opt/opsportal/.venv", str(VENV)).replace("/opt/opsportal", str(ROOT))
        )
        names = (
            [source.name.replace("@.", f"@{q}.") for q in QUEUES] if "@." in source.name else [source.name]
        )
        for name in names:
            (tmp_path / name).write_text(text)
            out.append(tmp_path / name)
    return out


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# Skipped only off CI (a laptop without systemd); CI must run these checks, so there they fail.
needs_systemd_analyze = pytest.mark.skipif(
    not SYSTEMD_ANALYZE and not os.environ.get("CI"), reason="systemd-analyze is not installed"
)


@needs_systemd_analyze
def test_systemd_analyze_verify_is_clean(tmp_path):
    files = _rendered(tmp_path)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, files)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no unknown keys, no warnings


@needs_systemd_analyze
def test_systemd_analyze_security_rates_each_service_ok(tmp_path):
    for path in _rendered(tmp_path):
        if path.suffix != ".service":
            continue
        result = subprocess.run(
            [SYSTEMD_ANALYZE, "security", "--offline=true", "--man=no", "--threshold=20", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{path.name}: exposure above 2.0\n{result.stdout[-400:]}"


def test_gunicorn_accepts_the_web_command(units):
    argv = [*exec_start(units["opsportal-web.service"]), "--check-config"]
    env = {**os.environ, "DEBUG": "true"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.postgresql  # the workers are separate processes: SQLite's in-memory test DB is not theirs
def test_the_worker_units_commands_serve_every_queue(units, tmp_path):
    """Each queue's ExecStart, run as is (concurrency 1, as a worker-<queue>.env would set):
    every queue gets a live worker in /healthz/workers' sense; SIGTERM stops it cleanly."""
    conn = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    conn.delete(*(workers.key(q) for q in QUEUES))
    env = {**os.environ, "DEBUG": "true", "REDIS_URL": settings.REDIS_URL, "WORKER_HEARTBEAT_SECONDS": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    procs = []
    try:
        for queue in QUEUES:
            argv = exec_start(
                units["opsportal-worker@.service"], instance=queue, env={"WORKER_CONCURRENCY": "1"}
            )
            log = open(tmp_path / f"{queue}.log", "w")  # noqa: SIM115 - closed below
            procs.append(
                (subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log)
            )
        wait_for(lambda: all(r.alive == 1 for r in workers.liveness(conn, QUEUES).values()), timeout=60)
        report = workers.liveness(conn, QUEUES)
        assert {q: report[q].workers[0].hostname for q in QUEUES} == {
            q: f"{q}@{socket.gethostname()}" for q in QUEUES
        }
    finally:
        for proc, _log in procs:
            proc.send_signal(signal.SIGTERM)  # what systemctl stop sends (KillMode=mixed)
        codes = [proc.wait(timeout=60) for proc, _log in procs]
        for _proc, log in procs:
            log.close()
    assert codes == [0] * len(QUEUES)  # warm shutdown, not a crash
    assert all(r.alive == 0 for r in workers.liveness(conn, QUEUES).values())  # withdrawn
    conn.close()
