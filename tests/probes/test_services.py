"""Scheduling, the state machine, heartbeats, maintenance windows and alerting, through the
services against real local servers and the real database."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from werkzeug import Response

from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall.models import EscalationLevel, EscalationPolicy, Page
from opsportal.errors import Conflict, InvalidInput
from probes import services
from probes.models import Probe, ProbeAlert, ProbeEvent, ProbeResult
from tests.factories import ServiceDependencyFactory, ServiceFactory, TeamFactory, UserFactory
from tests.probes.factories import HeartbeatFactory, MaintenanceWindowFactory, ProbeFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def tick(now=None) -> int:
    """One dispatcher tick and the worker runs it enqueued, in this process."""
    report = services.dispatch_due(now=now, enqueue=False)
    return sum(services.run_batch(probe_ids=ids, lease_token=token, now=now) for ids, token in report.batches)


class Flaky:
    """An endpoint whose answers follow a script of status codes (last one repeats)."""

    def __init__(self, httpserver, script):
        self.script = list(script)
        httpserver.expect_request("/flaky").respond_with_handler(self)
        self.url = httpserver.url_for("/flaky")

    def __call__(self, _request):
        status = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return Response("x", status=status)


def run_probe(probe, times=1):
    for _ in range(times):
        Probe.objects.filter(pk=probe.pk).update(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        assert tick() == 1
    probe.refresh_from_db()
    return probe


@pytest.fixture
def team():
    """A team whose default escalation policy pages its on-call engineer."""
    manager = UserFactory(username="teamlead", email="lead@example.com")
    oncaller = UserFactory(username="oncaller", email="oncaller@example.com")
    team = TeamFactory(manager=manager, email="team@example.com")
    team.members.add(oncaller)
    policy = EscalationPolicy.objects.create(team=team, name="Default", is_team_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=5).users.add(oncaller)
    return team


def pages(alert=None):
    qs = Page.objects.filter(dedup_key__startswith="probes:alert:")
    return qs.filter(dedup_key=f"probes:alert:{alert.pk}") if alert is not None else qs


def down_notifications(alert):
    return Notification.objects.filter(event_key=f"probes:alert:{alert.pk}:down")


# --- state machine --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "outcome", "failures", "successes", "expected"),
    [
        ("new", "up", 0, 1, "up"),
        ("new", "down", 1, 0, "new"),
        ("new", "down", 2, 0, "down"),
        ("up", "down", 1, 0, "up"),
        ("up", "down", 2, 0, "down"),
        ("up", "degraded", 0, 1, "degraded"),
        ("down", "up", 0, 1, "down"),
        ("down", "up", 0, 2, "up"),
        ("down", "degraded", 0, 2, "degraded"),
    ],
)
def test_next_state_with_k2_j2(state, outcome, failures, successes, expected):
    assert (
        services.next_state(
            state, outcome, failures=failures, successes=successes, failure_threshold=2, success_threshold=2
        )
        == expected
    )


def test_flap_suppression_down_after_k_failures_up_after_j_successes(allow_local, httpserver, team):
    flaky = Flaky(httpserver, [200, 500, 200, 500, 500, 500, 200, 200])
    probe = ProbeFactory(url=flaky.url, service=ServiceFactory(owner_team=team), failure_threshold=2,
                         success_threshold=2)  # fmt: skip
    states = [run_probe(probe).state for _ in range(8)]
    assert states == ["up", "up", "up", "up", "down", "down", "down", "up"]
    events = list(
        ProbeEvent.objects.filter(probe=probe)
        .order_by("created_at", "id")
        .values_list("from_state", "to_state")
    )
    assert events == [("new", "up"), ("up", "down"), ("down", "up")]
    assert ProbeResult.objects.filter(probe=probe).count() == 8
    assert ProbeAlert.objects.filter(probe=probe).count() == 1
    assert ProbeAlert.objects.get(probe=probe).status == "resolved"


def test_results_carry_status_error_and_latency(allow_local, httpserver):
    httpserver.expect_request("/x").respond_with_data("no", status=502)
    probe = run_probe(ProbeFactory(url=httpserver.url_for("/x")))
    result = probe.results.get()
    assert (result.ok, result.outcome, result.status_code) == (False, "down", 502)
    assert result.error == "HTTP 502, expected 200-399"
    assert probe.last_error == result.error
    assert probe.consecutive_failures == 1
    assert probe.next_run_at > probe.last_checked_at


# --- dispatch and lease ---------------------------------------------------------------
def test_dispatch_selects_only_due_unpaused_network_probes():
    now = datetime.now(UTC)
    due = ProbeFactory(next_run_at=now - timedelta(seconds=5))
    ProbeFactory(next_run_at=now + timedelta(seconds=30))
    ProbeFactory(next_run_at=now - timedelta(seconds=5), state=Probe.State.PAUSED)
    HeartbeatFactory(next_run_at=now + timedelta(hours=1))
    report = services.dispatch_due(now=now, enqueue=False)
    assert [ids for ids, _ in report.batches] == [[due.pk]]


def test_dispatch_batches_by_batch_size(settings):
    settings.PROBE_BATCH_SIZE = 2
    now = datetime.now(UTC)
    ProbeFactory.create_batch(5, next_run_at=now - timedelta(seconds=1))
    report = services.dispatch_due(now=now, enqueue=False)
    assert [len(ids) for ids, _ in report.batches] == [2, 2, 1]
    assert len({token for _, token in report.batches}) == 3


def test_dispatch_enqueues_run_batch_on_commit(django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    probe = ProbeFactory(next_run_at=now - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        report = services.dispatch_due(now=now)
    assert report.leased == 1
    assert len(callbacks) == 1
    probe.refresh_from_db()
    assert probe.lease_token == report.batches[0][1]


def test_a_leased_probe_is_not_dispatched_again_until_its_lease_expires(allow_local, httpserver):
    """A worker killed mid-run leaves its lease; the probe is not wedged: once the lease
    expires a later tick leases it again, and the dead run can never write."""
    httpserver.expect_request("/ok").respond_with_data("ok")
    probe = ProbeFactory(url=httpserver.url_for("/ok"), next_run_at=datetime.now(UTC) - timedelta(seconds=1))
    start = datetime.now(UTC)
    first = services.dispatch_due(now=start, enqueue=False)
    ((ids, dead_token),) = first.batches  # the worker that got this batch is killed: never records
    probe.refresh_from_db()
    lease_until = probe.lease_until
    assert lease_until > start + timedelta(seconds=probe.timeout_seconds)

    assert services.dispatch_due(now=start + timedelta(seconds=10), enqueue=False).leased == 0
    assert services.dispatch_due(now=lease_until - timedelta(seconds=1), enqueue=False).leased == 0

    later = services.dispatch_due(now=lease_until + timedelta(seconds=1), enqueue=False)
    ((ids2, token2),) = later.batches
    assert ids2 == [probe.pk]
    assert token2 != dead_token
    # The killed run's message redelivered: its token no longer holds the lease.
    assert services.run_batch(probe_ids=ids, lease_token=dead_token) == 0
    assert services.run_batch(probe_ids=ids2, lease_token=token2, now=lease_until + timedelta(seconds=2)) == 1
    assert ProbeResult.objects.filter(probe=probe).count() == 1
    probe.refresh_from_db()
    assert probe.lease_token is None
    assert probe.state == "up"


def test_record_with_a_stale_token_writes_nothing(allow_local, httpserver):
    from probes.engine import Outcome

    probe = ProbeFactory(lease_token=uuid.uuid4(), lease_until=datetime.now(UTC) + timedelta(minutes=1))
    stale = Outcome(key=probe.pk, outcome="down", checked_at=datetime.now(UTC), error="late writer")
    assert services.record_outcomes(outcomes=[stale], lease_token=uuid.uuid4()) == 0
    assert not ProbeResult.objects.exists()


@pytest.mark.django_db(transaction=True)
# SQLite's in-memory shared-cache test database fails concurrent writers with SQLITE_LOCKED
# instead of waiting (a real SQLite file serialises them with IMMEDIATE transactions).
@pytest.mark.postgresql
def test_concurrent_dispatchers_never_lease_the_same_probe():
    now = datetime.now(UTC)
    ProbeFactory.create_batch(60, next_run_at=now - timedelta(seconds=1))
    barrier = threading.Barrier(3)
    reports, errors = [], []

    def dispatcher():
        try:
            barrier.wait()
            reports.append(services.dispatch_due(now=now, enqueue=False, limit=40))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    leased = [pk for r in reports for ids, _ in r.batches for pk in ids]
    assert len(leased) == len(set(leased)) == 60


def test_run_now_leases_and_refuses_while_running(django_capture_on_commit_callbacks):
    probe = ProbeFactory(next_run_at=datetime.now(UTC) + timedelta(minutes=5))
    with django_capture_on_commit_callbacks() as callbacks:
        token = services.run_now(probe=probe)
    assert len(callbacks) == 1
    probe.refresh_from_db()
    assert probe.lease_token == token
    with pytest.raises(Conflict, match="running right now"):
        services.run_now(probe=probe)


def test_pause_and_resume(allow_local, httpserver, team):
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    probe = ProbeFactory(url=httpserver.url_for("/down"), service=ServiceFactory(owner_team=team))
    run_probe(probe, times=2)
    alert = ProbeAlert.objects.get(probe=probe)
    services.pause_probe(probe=probe)
    probe.refresh_from_db()
    alert.refresh_from_db()
    assert probe.state == "paused"
    assert probe.next_run_at is None
    assert alert.status == "resolved"
    assert services.dispatch_due(enqueue=False).leased == 0
    with pytest.raises(Conflict):
        services.pause_probe(probe=probe)
    services.resume_probe(probe=probe)
    probe.refresh_from_db()
    assert probe.state == "new"
    assert probe.next_run_at is not None
    with pytest.raises(Conflict):
        services.resume_probe(probe=probe)


def test_prune_results_keeps_the_retention_period():
    probe = ProbeFactory()
    now = datetime.now(UTC)
    for age in (31, 29, 1):
        ProbeResult.objects.create(probe=probe, checked_at=now - timedelta(days=age), outcome="up", ok=True)
    assert services.prune_results(now=now) == 1
    assert ProbeResult.objects.count() == 2


# --- configuration --------------------------------------------------------------------
def test_save_probe_validates_per_kind(team):
    service = ServiceFactory(owner_team=team)
    with pytest.raises(InvalidInput, match="HTTP probes need a URL"):
        services.save_probe(name="x", service=service, kind="http")
    with pytest.raises(InvalidInput, match="TCP probes need a port"):
        services.save_probe(name="x", service=service, kind="tcp", host="db.example.com")
    with pytest.raises(InvalidInput, match="period or a cron"):
        services.save_probe(name="x", service=service, kind="heartbeat")
    with pytest.raises(InvalidInput, match="Invalid cron"):
        services.save_probe(name="x", service=service, kind="heartbeat", cron="61 * * * *")
    with pytest.raises(InvalidInput, match="always refused"):
        services.save_probe(name="x", service=service, kind="http", url="http://169.254.169.254/")
    with pytest.raises(InvalidInput, match="Expected statuses"):
        services.save_probe(
            name="x", service=service, kind="http", url="https://a.example/", expected_statuses="x"
        )
    probe = services.save_probe(name="ok", service=service, kind="http", url="https://a.example/")
    assert probe.next_run_at is not None
    assert probe.state == "new"


def test_header_secrets_are_masked_and_kept_when_sent_back(team):
    probe = services.save_probe(
        name="h", service=ServiceFactory(owner_team=team), kind="http", url="https://a.example/",
        headers={"Authorization": "Bearer abcdefghijklmnop", "X-Env": "prod"},
    )  # fmt: skip
    masked = {k: services.mask_secret(v) for k, v in probe.headers.items()}
    assert masked == {"Authorization": "Bear********", "X-Env": "********"}
    services.save_probe(probe=probe, headers={**masked, "X-Env": "staging"})
    probe.refresh_from_db()
    assert probe.headers == {"Authorization": "Bearer abcdefghijklmnop", "X-Env": "staging"}


# --- heartbeats -----------------------------------------------------------------------
def test_heartbeat_is_late_only_after_period_plus_grace():
    probe = HeartbeatFactory(period_seconds=3600, grace_seconds=300)
    with time_machine.travel(T0, tick=False):
        assert services.record_ping(ping_uuid=probe.uuid)
    probe.refresh_from_db()
    assert probe.state == "up"
    boundary = T0 + timedelta(seconds=3900)
    assert probe.next_run_at == boundary
    with time_machine.travel(boundary, tick=False):
        assert services.dispatch_due(enqueue=False).late_heartbeats == 0
    probe.refresh_from_db()
    assert probe.state == "up"
    with time_machine.travel(boundary + timedelta(seconds=1), tick=False):
        assert services.dispatch_due(enqueue=False).late_heartbeats == 1
        assert services.dispatch_due(enqueue=False).late_heartbeats == 0  # idempotent
    probe.refresh_from_db()
    assert probe.state == "down"
    late = probe.results.get(source="late")
    assert late.ok is False
    assert "expected by 2026-03-02 13:05:00 UTC" in late.error
    assert ProbeAlert.objects.get(probe=probe).detected_at == boundary


def test_repeated_success_pings_move_the_deadline_and_record_results():
    """On PostgreSQL the second and third pings take the one-statement fast path; the
    outcome is the same as the locked path's (SQLite runs the locked path throughout)."""
    probe = HeartbeatFactory(period_seconds=600, grace_seconds=60)
    for minute in range(3):
        with time_machine.travel(T0 + timedelta(minutes=minute), tick=False):
            assert services.record_ping(ping_uuid=probe.uuid)
    probe.refresh_from_db()
    assert probe.state == "up"
    assert probe.consecutive_successes == 3
    assert probe.last_ping_at == probe.last_ok_at == T0 + timedelta(minutes=2)
    assert probe.next_run_at == T0 + timedelta(minutes=2, seconds=660)
    assert list(probe.results.order_by("checked_at").values_list("source", "ok")) == [("ping", True)] * 3
    assert not probe.history.filter(history_date__gt=probe.created_at + timedelta(seconds=1)).exists()


def test_heartbeat_with_cron_and_time_zone():
    probe = HeartbeatFactory(
        cron="0 9 * * *", cron_timezone="Europe/Berlin", period_seconds=None, grace_seconds=600
    )
    with time_machine.travel(T0, tick=False):  # 13:00 Berlin: next expected 09:00 Berlin tomorrow
        services.record_ping(ping_uuid=probe.uuid)
    probe.refresh_from_db()
    assert probe.next_run_at == datetime(2026, 3, 3, 8, 10, tzinfo=UTC)


def test_heartbeat_fail_marks_down_at_once_and_success_recovers(team):
    probe = HeartbeatFactory(service=ServiceFactory(owner_team=team), failure_threshold=3)
    services.record_ping(ping_uuid=probe.uuid)
    services.record_ping(ping_uuid=probe.uuid, kind="fail", detail="exit 2: card processor timeout")
    probe.refresh_from_db()
    assert probe.state == "down"
    assert probe.last_error == "the job reported a failure: exit 2: card processor timeout"
    assert ProbeAlert.objects.filter(probe=probe, status="open").count() == 1
    services.record_ping(ping_uuid=probe.uuid)
    probe.refresh_from_db()
    assert probe.state == "up"
    assert ProbeAlert.objects.get(probe=probe).status == "resolved"


def test_heartbeat_start_to_success_duration_is_recorded():
    probe = HeartbeatFactory()
    with time_machine.travel(T0, tick=False):
        services.record_ping(ping_uuid=probe.uuid, kind="start")
    with time_machine.travel(T0 + timedelta(seconds=42.5), tick=False):
        services.record_ping(ping_uuid=probe.uuid)
    probe.refresh_from_db()
    assert probe.last_duration_ms == 42500.0
    assert probe.last_start_at is None
    assert probe.results.get(source="ping").latency_ms == 42500.0


def test_ping_for_an_unknown_uuid_changes_nothing():
    assert services.record_ping(ping_uuid=uuid.uuid4()) is False
    network = ProbeFactory()
    assert services.record_ping(ping_uuid=network.uuid) is False  # only heartbeats take pings


def test_new_heartbeat_is_never_late_before_its_first_ping():
    HeartbeatFactory()
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30), tick=False):
        assert services.mark_late_heartbeats() == 0


# --- alerting -------------------------------------------------------------------------
def _down(httpserver, team, path="/down", **kw):
    httpserver.expect_request(path).respond_with_data("no", status=500)
    return ProbeFactory(
        url=httpserver.url_for(path), service=kw.pop("service", None) or ServiceFactory(owner_team=team), **kw
    )


def test_down_pages_exactly_once_while_it_stays_down(allow_local, httpserver, team):
    probe = _down(httpserver, team)
    run_probe(probe)
    assert not ProbeAlert.objects.exists()  # one failure of K=2: not down yet
    run_probe(probe, times=4)
    alert = ProbeAlert.objects.get(probe=probe)
    assert (alert.status, alert.disposition) == ("open", "paged")
    page = pages().get()
    assert (page.pk, page.service, page.subject) == (alert.page_id, probe.service, alert)
    assert page.title == f"{probe.service.name}: {probe.name} is DOWN"
    assert page.summary == f"{probe.name} failed: HTTP 500, expected 200-399"
    assert not Notification.objects.filter(event_key__startswith="probes:").exists()  # the page notifies


def test_recovery_resolves_the_page_and_notifies(allow_local, httpserver, team):
    flaky = Flaky(httpserver, [500, 500, 200])
    probe = ProbeFactory(url=flaky.url, service=ServiceFactory(owner_team=team))
    run_probe(probe, times=3)
    alert = ProbeAlert.objects.get(probe=probe)
    assert alert.status == "resolved"
    assert pages(alert).get().status == Page.Status.RESOLVED
    recovered = Notification.objects.filter(event_key=f"probes:alert:{alert.pk}:recovered")
    assert set(recovered.values_list("kind", flat=True)) == {"update"}
    assert recovered.first().subject.startswith("[RECOVERED] ")


def test_service_without_escalation_policy_notifies_the_owner_team(allow_local, httpserver):
    team = TeamFactory(
        manager=UserFactory(username="lead2", email="lead2@example.com"), email="t2@example.com"
    )
    probe = _down(httpserver, team)
    run_probe(probe, times=3)
    alert = ProbeAlert.objects.get(probe=probe)
    assert alert.page_id is None
    assert not pages().exists()
    assert sorted(down_notifications(alert).values_list("address", flat=True)) == [
        "lead2@example.com",
        "t2@example.com",
    ]
    assert set(down_notifications(alert).values_list("kind", flat=True)) == {"page"}


def test_one_open_alert_per_probe_is_enforced_by_the_database(team):
    from django.db import IntegrityError, transaction

    probe = ProbeFactory(service=ServiceFactory(owner_team=team))
    now = datetime.now(UTC)
    fields = {"probe": probe, "service": probe.service, "opened_at": now, "detected_at": now, "started_at": now,
              "disposition": "paged"}  # fmt: skip
    ProbeAlert.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProbeAlert.objects.create(**fields)


def test_down_opens_an_incident_with_detection_timestamps(allow_local, httpserver, team):
    flaky = Flaky(httpserver, [200, 500, 500, 500, 200])
    probe = ProbeFactory(url=flaky.url, service=ServiceFactory(owner_team=team), incident_severity=2)
    run_probe(probe, times=3)
    results = list(probe.results.order_by("checked_at"))
    alert = ProbeAlert.objects.get(probe=probe)
    incident = Incident.objects.get(pk=alert.incident_id)
    assert incident.detection_source == "monitoring"
    assert incident.severity.level == 2
    assert incident.detected_at == results[1].checked_at == alert.detected_at  # first failing result
    assert incident.started_at == results[0].checked_at == alert.started_at  # last success
    assert list(incident.services.all()) == [probe.service]
    run_probe(probe, times=2)
    assert Incident.objects.count() == 1
    run_probe(probe)  # 200: recovered
    incident.refresh_from_db()
    assert incident.status in Incident.OPEN_STATUSES  # people resolve incidents, probes do not
    recovery = incident.timeline.get(kind=TimelineEvent.Kind.PROBE_ALERT)
    assert recovery.text.startswith(f"Probe {probe.name} recovered")
    # a SEV-2 pages on-call when declared; the alert shares that page instead of a second one
    alert.refresh_from_db()
    assert Page.objects.get().pk == alert.page_id
    assert Page.objects.get().dedup_key == f"incident:{incident.pk}"


def test_a_control_character_in_a_service_name_never_stops_the_incident(allow_local, httpserver, team):
    """Incident titles are refused with control characters when people type them (status page
    feeds cannot carry them); a title the portal derives is cleaned instead, so a probe alert
    always opens its incident."""
    service = ServiceFactory(owner_team=team, name="Check\u000bout")
    probe = _down(httpserver, team, service=service, name="web\u0001", incident_severity=3)
    run_probe(probe, times=2)
    assert Incident.objects.get().title == "Checkout: web is down"


def test_started_at_is_the_first_failure_when_the_probe_never_succeeded(allow_local, httpserver, team):
    probe = _down(httpserver, team, incident_severity=3)
    run_probe(probe, times=2)
    first = probe.results.order_by("checked_at").first()
    incident = Incident.objects.get()
    assert incident.detected_at == incident.started_at == first.checked_at


def test_down_adds_a_timeline_event_to_an_open_incident_of_the_service(allow_local, httpserver, team):
    from incidents import services as incident_services

    service = ServiceFactory(owner_team=team)
    open_incident = incident_services.declare_incident(
        title="Billing errors", severity=2, services=[service], actor=None
    )
    probe = _down(httpserver, team, service=service, incident_severity=1)
    run_probe(probe, times=2)
    assert Incident.objects.count() == 1
    event = open_incident.timeline.get(kind=TimelineEvent.Kind.PROBE_ALERT)
    assert event.text.startswith(f"Probe down: {probe.name} failed: HTTP 500")
    assert ProbeAlert.objects.get().incident_id == open_incident.pk


def test_maintenance_window_silences_the_page(allow_local, httpserver, team):
    probe = _down(httpserver, team)
    now = datetime.now(UTC)
    MaintenanceWindowFactory(
        service=probe.service, starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1)
    )
    run_probe(probe, times=3)
    alert = ProbeAlert.objects.get(probe=probe)
    assert alert.disposition == "silenced"
    assert probe.results.count() == 3  # results are still recorded
    assert not pages().exists()
    assert not Notification.objects.exists()


def test_expired_maintenance_window_does_not_silence(allow_local, httpserver, team):
    probe = _down(httpserver, team)
    now = datetime.now(UTC)
    MaintenanceWindowFactory(
        probe=probe, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    run_probe(probe, times=2)
    assert ProbeAlert.objects.get(probe=probe).disposition == "paged"


def test_recurring_maintenance_window():
    probe = ProbeFactory()
    window = MaintenanceWindowFactory(
        probe=probe, starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=None,
        recurrence_cron="0 2 * * SUN", recurrence_timezone="Europe/Berlin", duration_minutes=120,
    )  # fmt: skip
    sunday_0200_berlin = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    assert services.window_active(window, sunday_0200_berlin)
    assert services.window_active(window, sunday_0200_berlin + timedelta(minutes=119))
    assert not services.window_active(window, sunday_0200_berlin + timedelta(minutes=120))
    assert not services.window_active(window, sunday_0200_berlin - timedelta(seconds=1))
    assert services.active_window(probe, sunday_0200_berlin + timedelta(minutes=30)) == window


def test_save_maintenance_window_validates(team):
    service = ServiceFactory(owner_team=team)
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput, match="One-off windows need an end"):
        services.save_maintenance_window(service=service, reason="x", starts_at=now)
    with pytest.raises(InvalidInput, match="either a service or one probe"):
        services.save_maintenance_window(reason="x", starts_at=now, ends_at=now + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="end after it starts"):
        services.save_maintenance_window(service=service, reason="x", starts_at=now, ends_at=now)
    window = services.save_maintenance_window(service=service, reason="db upgrade", starts_at=now,
                                              ends_at=now + timedelta(hours=1))  # fmt: skip
    assert window.pk


def test_dependents_are_grouped_under_a_down_dependency(allow_local, httpserver, team):
    """Shared database down: its alert pages; the services depending on it (directly or
    transitively) do not page every team - their alerts are grouped under it. When the
    database recovers, a dependent that is still down pages on its own."""
    database = ServiceFactory(owner_team=team, name="Postgres")
    api = ServiceFactory(owner_team=team, name="API")
    web = ServiceFactory(owner_team=team, name="Web")
    ServiceDependencyFactory(service=api, depends_on=database)
    ServiceDependencyFactory(service=web, depends_on=api)
    flaky_db = Flaky(httpserver, [500, 500, 200])
    db_probe = ProbeFactory(url=flaky_db.url, service=database)
    httpserver.expect_request("/api").respond_with_data("no", status=500)
    httpserver.expect_request("/web").respond_with_data("no", status=503)
    api_probe = ProbeFactory(url=httpserver.url_for("/api"), service=api)
    web_probe = ProbeFactory(url=httpserver.url_for("/web"), service=web)

    run_probe(db_probe, times=2)
    run_probe(api_probe, times=2)
    run_probe(web_probe, times=2)
    root = ProbeAlert.objects.get(probe=db_probe)
    api_alert = ProbeAlert.objects.get(probe=api_probe)
    web_alert = ProbeAlert.objects.get(probe=web_probe)
    assert root.disposition == "paged"
    assert (api_alert.disposition, api_alert.grouped_under) == ("grouped", root)
    assert (web_alert.disposition, web_alert.grouped_under) == ("grouped", root)
    assert list(pages().values_list("dedup_key", flat=True)) == [f"probes:alert:{root.pk}"]

    run_probe(db_probe)  # database recovers; API and web are still failing
    root.refresh_from_db()
    api_alert.refresh_from_db()
    web_alert.refresh_from_db()
    assert root.status == "resolved"
    assert (api_alert.disposition, api_alert.grouped_under) == ("paged", None)
    assert (web_alert.disposition, web_alert.grouped_under) == (
        "grouped",
        api_alert,
    )  # web still explained by API
    assert pages(api_alert).exists()
    assert not pages(web_alert).exists()
