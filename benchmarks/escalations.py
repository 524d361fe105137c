"""Support escalations: filing through the full stack (gunicorn, 2 sync workers, local
PostgreSQL), then the Celery worker that pages on-call for the filings.

Seeds five teams (each with a default escalation policy), twenty services and 200 support
agents in a throwaway database, starts gunicorn on it (production settings: DEBUG off,
collected static files), signs every agent in and warms both web processes on every code
path the run takes (see ``warm_up``; the measured services get nothing). Then:

0. baseline: GET /support/ (a signed-in page, a few reads) at the same 50 requests/s;
1. open loop: POST /support/escalate/ at a fixed 50 requests/s for 20 s (each request's
   latency counts from its scheduled send time, so a stall shows up instead of hiding);
2. closed loop: 8 clients posting back to back for 10 s -> the most filings/s it serves;
3. a Celery worker (critical queue, 2 processes like `make run`; e-mail to a dummy backend)
   starts and pages everything 1-2 queued: filings paged per second, messages sent included;
4. with the worker running, 10 filings/s for 10 s: the web latency, and the time from each
   filing to the first message of its page being sent (on-call's phone).

Every request is a real filing: CSRF, rate limit (Redis), the service row lock, routing, surge
detection (surges do happen: every service gets its third report within seconds, so 20
incidents open in step 1), and the paging task enqueued to the broker on commit. Steps 1-2
run without the worker, as the target is set for the web tier (gunicorn + PostgreSQL); on
this 2-core machine a worker paging 50 filings/s would take the cores the web tier is
measured on, so its cost is measured on its own (3), and its latency at a rate it keeps up
with (4). Each report's service is drawn at random (seeded): an earlier round-robin
assignment made all services cross the surge threshold in the same 0.4 s, a synchronised
burst real traffic does not produce. Target: p99 <= 150 ms at 50/s.
Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); prints figures, asserts nothing.
Before and afterwards it PURGES the Celery queues on REDIS_URL (the deliveries it enqueued
point at the dropped database): use a Redis no worker of yours relies on (`make bench`
starts a private one).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _harness import ROOT, django_with_fresh_db, report

AGENTS = 200
RATE = 50  # requests per second, open loop
OPEN_SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CLOSED_SECONDS = 10
CLOSED_CLIENTS = 8
PASSWORD = "bench-password"  # noqa: S105 - throwaway accounts in a throwaway database
MAX_LAG = 10  # seconds behind schedule after which the open loop stops sending


def seed() -> list[int]:
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from catalog.models import Service, Team
    from oncall.models import EscalationLevel, EscalationPolicy

    support = Group.objects.get(name=roles.SUPPORT)
    service_ids = []
    for t in range(5):
        lead = User.objects.create_user(f"lead{t}", f"lead{t}@example.com", PASSWORD)
        oncaller = User.objects.create_user(f"oncall{t}", f"oncall{t}@example.com", PASSWORD)
        team = Team.objects.create(
            name=f"Team {t}", slug=f"team-{t}", manager=lead, email=f"team{t}@example.com"
        )
        policy = EscalationPolicy.objects.create(team=team, name=f"Team {t} default", is_team_default=True)
        EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=5).users.add(oncaller)
        EscalationLevel.objects.create(policy=policy, position=2, delay_minutes=10).users.add(lead)
        for s in range(4):
            service = Service.objects.create(
                name=f"Service {t}-{s}", slug=f"service-{t}-{s}", owner_team=team
            )
            service_ids.append(service.pk)
    from escalations.models import SupportSettings

    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(triage_policy=policy)  # "not sure" pages the last team
    for n in range(AGENTS):
        User.objects.create_user(f"agent{n}", f"agent{n}@example.com", PASSWORD).groups.add(support)
    return service_ids


def warm_up_services(count: int = 8) -> list[int]:
    """Services outside the measured set, owned by the first team."""
    from catalog.models import Service, Team

    team = Team.objects.order_by("pk").first()
    return [
        Service.objects.create(name=f"Warm-up {k}", slug=f"warm-up-{k}", owner_team=team).pk
        for k in range(count)
    ]


def warm_up(clients, service_ids) -> None:
    """Warm both web workers on every code path the run takes (first-use imports, templates,
    URL resolvers, each worker's database session, the broker connection): "not sure"
    filings of every impact, two filings for each of four spare services, and three for each
    of four more - surges that open incidents there, so each process has declared one before
    the measured surges (a process's first costs ~0.3 s). The measured services get nothing."""
    spare = warm_up_services()
    plan = ["not-sure"] * 12 + [str(pk) for pk in spare[:4] for _ in range(2)]
    plan += [str(pk) for _ in range(3) for pk in spare[4:]]
    for k, service in enumerate(plan):
        client, token = clients[AGENTS - 1 - k]
        data = payload(10**7 + 10 * k, token, service_ids)
        data["service"] = service
        assert client.post("/support/escalate/", data=data).status_code == 302


def in_process(service_ids) -> dict:
    """Server-side cost of one filing without HTTP or concurrency: Django's test client,
    one agent, sequential. Median / p95 ms and queries per POST."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=f"agent{AGENTS - 1}"))
    samples, queries = [], []
    for n in range(25):  # under the 30/min per-user limit
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.post("/support/escalate/", data=payload(2 * 10**6 + n, "", service_ids))
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302, response.status_code
        queries.append(len(ctx.captured_queries))
    return {
        "median": statistics.median(samples),
        "p95": pct(samples, 0.95),
        "queries": statistics.median(queries),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def server_env() -> dict:
    """Production settings for gunicorn and the worker, on the throwaway database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # no TLS terminator in front of this loopback server
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "DJANGO_SETTINGS_MODULE": "opsportal.settings_test",  # its random SECRET_KEY; MD5 hasher: fast sign-ins
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "dummymail://",  # the worker's page e-mails end here instead of at an SMTP server
    }


def start_worker() -> subprocess.Popen:
    """A Celery worker on the critical queue (pages and their notifications), two processes
    like `make run` starts, at the lowest CPU priority: it pages with the CPU the web tier
    leaves, so the latency measured is the web tier's (in production workers have cores of
    their own), and how far paging falls behind on this machine is measured and reported."""
    return subprocess.Popen(
        ["nice", "-n", "19", sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", "critical",
         "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT, env=server_env(), start_new_session=True,
    )  # fmt: skip


def start_gunicorn(port: int) -> subprocess.Popen:
    """Production settings (DEBUG off, collected static files), plain HTTP on loopback."""
    env = server_env()
    # The manifest DEBUG-off pages need (staticfiles/ is git-ignored; production does the same).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [
            gunicorn,
            "opsportal.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 503):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def sign_in(base: str, username: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=10)
    page = client.get("/accounts/login/")
    token = CSRF_RE.search(page.text).group(1)
    done = client.post(
        "/accounts/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert done.status_code == 302, done.status_code
    form = client.get("/support/escalate/")
    assert form.status_code == 200, form.status_code
    return client, CSRF_RE.search(form.text).group(1)


def payload(n: int, token: str, service_ids: list[int]) -> dict:
    impacts = ["blocked", "degraded", "question"]
    return {
        "csrfmiddlewaretoken": token,
        "incident": "new",
        "customer": f"customer-{n}",
        "contact": f"ops{n}@customer.example",
        # Drawn at random (seeded by n, so every run files the same reports), 10% "not sure".
        "service": str(random.Random(n).choice(service_ids)) if n % 10 else "not-sure",
        "summary": "Checkout shows 'payment failed' for every card since 10:05.",
        "impact": impacts[n % 3],
        "customers_reporting": str(1 + n % 4),
        "links": "https://support.example.com/tickets/1",
    }


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def open_loop(clients, send, rate: int = RATE, seconds: int = OPEN_SECONDS, offset: int = 0) -> dict:
    """``send(client, token, n)`` at ``rate`` per second from 64 threads, for n from ``offset``;
    latency from schedule."""
    jobs: queue.Queue = queue.Queue()
    latencies: list[float] = []
    statuses: dict = {}
    lock = threading.Lock()
    client_locks = [threading.Lock() for _ in clients]
    total = rate * seconds
    start = time.perf_counter() + 0.5

    def worker():
        while (item := jobs.get()) is not None:
            n, scheduled = item
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -MAX_LAG:  # hopelessly behind: record it instead of piling on
                with lock:
                    statuses["not sent (>10 s late)"] = statuses.get("not sent (>10 s late)", 0) + 1
                continue
            client, token = clients[n % len(clients)]
            try:
                with client_locks[n % len(clients)]:
                    status = send(client, token, n).status_code
            except Exception as exc:
                status = type(exc).__name__
            elapsed = (time.perf_counter() - scheduled) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(64)]
    for t in threads:
        t.start()
    for k in range(total):
        jobs.put((offset + k, start + k / rate))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"latencies": latencies, "statuses": statuses, "rate": total / wall}


def closed_loop(clients, service_ids, offset: int) -> dict:
    latencies: list[float] = []
    statuses: dict = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + CLOSED_SECONDS
    counter = iter(range(offset, offset + 10**7))

    def worker(i: int):
        while time.perf_counter() < stop_at:
            n = next(counter)
            client, token = clients[(i * 25 + n) % len(clients)]
            started = time.perf_counter()
            try:
                status = client.post("/support/escalate/", data=payload(n, token, service_ids)).status_code
            except Exception as exc:
                status = type(exc).__name__
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    # each worker owns a disjoint slice of the agents (no shared httpx client across threads)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLOSED_CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "statuses": statuses, "rate": len(latencies) / (time.perf_counter() - t0)}


def wait_worker_idle(timeout: float = 300) -> float:
    """Seconds until the worker has dispatched every filing and sent every message those
    dispatches wrote to the outbox (timeout: gives up)."""
    from escalations.models import Escalation
    from notifications.models import Notification

    started = time.perf_counter()
    while (
        Escalation.objects.filter(dispatched_at__isnull=True).exists()
        or Notification.objects.filter(status__in=["pending", "sending"]).exists()
    ):
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.05)
    return time.perf_counter() - started


def worker_side(since, until) -> dict:
    """For the filings made between ``since`` and ``until``: how long from filing until the
    first page notification of their own page was sent (on-call's phone), and what the
    worker had left to do when the open loop ended."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Min

    from escalations.models import Escalation
    from notifications.models import Notification
    from oncall.models import Page

    filings = Escalation.objects.filter(created_at__gte=since, created_at__lte=until)
    paged = dict(filings.filter(page__isnull=False).values_list("page_id", "created_at"))
    sent = dict(
        Notification.objects.filter(
            related_type=ContentType.objects.get_for_model(Page),
            related_id__in=[str(pk) for pk in paged],
            sent_at__isnull=False,
        )
        .values_list("related_id")
        .annotate(first=Min("sent_at"))
    )
    lags = [(sent[str(pk)] - filed).total_seconds() * 1000 for pk, filed in paged.items() if str(pk) in sent]
    return {
        "filings": filings.count(),
        "pages": len(paged),
        "notified": lags,
        "surge_linked": filings.filter(linked_by=Escalation.LinkSource.SURGE).count(),
    }


STEADY_RATE = 10  # filings per second with the worker running: a very bad day, not a benchmark storm
STEADY_SECONDS = 10


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("escalations benchmark: needs PostgreSQL (set DATABASE_URL=postgres://...); not run.")
        return 0
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with django_with_fresh_db():
        from django.utils import timezone

        from escalations.models import Escalation
        from incidents.defaults import ensure_severities
        from incidents.models import Incident, Severity
        from notifications.models import Notification
        from opsportal.celery import app

        ensure_severities(Severity)
        service_ids = seed()
        app.control.purge()  # nothing left over from an earlier run
        local = in_process(service_ids)
        port = free_port()
        proc = start_gunicorn(port)
        worker = None
        try:
            base = f"http://127.0.0.1:{port}"
            clients = [sign_in(base, f"agent{n}") for n in range(AGENTS)]
            warm_up(clients, service_ids)
            warm_incidents = Incident.objects.count()

            def post(client, token, n):
                return client.post("/support/escalate/", data=payload(n, token, service_ids))

            # 1-2: the web tier as the issue measures it (gunicorn + PostgreSQL), no worker
            baseline = open_loop(clients, lambda client, token, n: client.get("/support/"))
            first = open_loop(clients, post)
            # closed loop: one client per worker thread, each from its own slice of agents
            second = closed_loop(clients[: CLOSED_CLIENTS * 25], service_ids, offset=10**6)
            # 3: the worker pages everything those filings queued, with the machine to itself
            backlog = Escalation.objects.filter(dispatched_at__isnull=True).count()
            worker = start_worker()
            drain = wait_worker_idle()
            messages = Notification.objects.filter(status="sent").count()
            # 4: filings with the worker running: from filing to on-call's first message
            since = timezone.now()
            steady = open_loop(clients, post, rate=STEADY_RATE, seconds=STEADY_SECONDS, offset=3 * 10**6)
            until = timezone.now()
            wait_worker_idle()
            paging = worker_side(since, until)
            for client, _ in clients:
                client.close()
        finally:
            for process in (proc, worker):
                if process is not None:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=30)
            # Deliveries and escalation steps still queued point at rows in a database that is
            # about to be dropped: remove them so no worker chews on them later.
            purged = app.control.purge()
        undispatched = Escalation.objects.filter(dispatched_at__isnull=True).count()
        from django.db import connections

        connections.close_all()
        lat = first["latencies"] or [0.0]
        base = baseline["latencies"] or [0.0]
        calm = steady["latencies"] or [0.0]
        notified = paging["notified"] or [0.0]
        load = os.getloadavg()
        report(
            "escalations: POST /support/escalate/ through gunicorn (2 workers), PostgreSQL; then a Celery worker",
            [
                ("open loop: offered / achieved req/s", f"{RATE} / {first['rate']:.1f}"),
                ("open loop: requests, statuses", f"{len(lat)}, {dict(first['statuses'])}"),
                ("open loop: p50 / p95 / p99 / max ms", f"{pct(lat, .5)} / {pct(lat, .95)} / {pct(lat, .99)} / {max(lat):.1f}"),
                ("open loop: p99 target 150 ms", "met" if pct(lat, .99) <= 150 else "MISSED"),
                ("baseline GET /support/ at 50/s: p50 / p99 ms", f"{pct(base, .5)} / {pct(base, .99)} {dict(baseline['statuses'])}"),
                ("p99 ratio POST escalate / GET /support/", f"{pct(lat, .99) / max(pct(base, .99), 0.1):.2f}x"),
                ("in-process (no HTTP, sequential): median / p95 ms", f"{local['median']:.1f} / {local['p95']}"),
                ("in-process: queries per filing (median)", f"{local['queries']}"),
                ("closed loop (8 clients): req/s", f"{second['rate']:.1f}"),
                ("closed loop: median / p99 ms", f"{statistics.median(second['latencies']):.1f} / {pct(second['latencies'], .99)}"),
                ("closed loop: statuses", str(dict(second["statuses"]))),
                ("worker (2 processes): paged the queued filings, messages sent", f"{backlog} in {drain:.1f} s = {backlog / max(drain, 0.001):.0f} filings/s, {messages} messages"),
                (f"with the worker running, {STEADY_RATE}/s: p50 / p99 ms", f"{pct(calm, .5)} / {pct(calm, .99)} {dict(steady['statuses'])}"),
                (f"with the worker running, {STEADY_RATE}/s: filed -> on-call notified p50 / p99 / max ms", f"{pct(notified, .5)} / {pct(notified, .99)} / {max(notified):.1f} ({len(paging['notified'])} of {paging['filings']} filings paged)"),
                ("filings never dispatched", str(undispatched)),
                ("broker messages purged afterwards", str(purged)),
                ("escalations filed / incidents opened by surges (warm-up + measured)", f"{Escalation.objects.count()} / {warm_incidents} + {Incident.objects.count() - warm_incidents}"),
                ("machine: CPUs, load average (1/5 min)", f"{os.cpu_count()}, {load[0]:.1f} / {load[1]:.1f}"),
            ],
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
