"""Celery layout: queues and routes, the ping round trip through the real broker, and the
periodic task sync into django-celery-beat."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from opsportal import periodic
from opsportal.celery import app
from opsportal.tasks import ping
from tests.celery_worker import running_worker, wait_for, worker_database_url


def test_queues_and_routes():
    assert {q.name for q in app.conf.task_queues} == {"critical", "probes", "default"}
    router = app.amqp.router
    assert router.route({}, "opsportal.ping")["queue"].name == "critical"
    assert router.route({}, "notifications.deliver")["queue"].name == "critical"
    assert router.route({}, "probes.run_batch")["queue"].name == "probes"
    assert router.route({}, "incidents.something")["queue"].name == "default"


@pytest.mark.integration
def test_ping_round_trips_through_the_real_broker():
    with running_worker(queues="critical"):
        result = ping.delay()
        assert result.get(timeout=30) == "pong"


SPECS = [
    periodic.PeriodicTaskSpec(name="t: every minute", task="opsportal.ping", every=timedelta(minutes=1)),
    periodic.PeriodicTaskSpec(
        name="t: nightly", task="opsportal.ping", crontab="0 3 * * *", queue="critical"
    ),
]


@pytest.mark.django_db
def test_sync_creates_then_updates_without_duplicates_and_keeps_beat_state():
    report = periodic.sync(SPECS)
    assert sorted(report.created) == ["t: every minute", "t: nightly"]
    task = PeriodicTask.objects.get(name="t: every minute")
    task.total_run_count = 7
    task.save()

    report = periodic.sync(SPECS)
    assert report.created == []
    assert sorted(report.updated) == ["t: every minute", "t: nightly"]
    assert PeriodicTask.objects.filter(name__startswith="t: ").count() == 2
    assert PeriodicTask.objects.get(name="t: every minute").total_run_count == 7
    nightly = PeriodicTask.objects.get(name="t: nightly")
    assert (nightly.crontab.minute, nightly.crontab.hour, nightly.queue) == ("0", "3", "critical")


@pytest.mark.django_db
def test_sync_keeps_a_schedule_changed_in_the_admin_unless_reset():
    periodic.sync(SPECS)
    task = PeriodicTask.objects.get(name="t: every minute")
    five, _ = IntervalSchedule.objects.get_or_create(every=300, period=IntervalSchedule.SECONDS)
    task.interval = five
    task.save()

    periodic.sync(SPECS)
    assert PeriodicTask.objects.get(name="t: every minute").interval.every == 300
    periodic.sync(SPECS, reset_schedules=True)
    assert PeriodicTask.objects.get(name="t: every minute").interval.every == 60


@pytest.mark.django_db
def test_sync_disables_tasks_removed_from_code():
    periodic.sync(SPECS)
    report = periodic.sync(SPECS[:1])
    assert report.disabled == ["t: nightly"]
    assert PeriodicTask.objects.get(name="t: nightly").enabled is False


def test_spec_needs_exactly_one_schedule():
    with pytest.raises(ValueError, match="exactly one"):
        periodic.PeriodicTaskSpec(name="x", task="y")
    with pytest.raises(ValueError, match="5 fields"):
        periodic.PeriodicTaskSpec(name="x", task="y", crontab="* * *")


@pytest.mark.django_db
def test_management_command_syncs_code_declared_tasks(capsys):
    call_command("sync_periodic_tasks")
    assert PeriodicTask.objects.filter(name="opsportal: scheduler heartbeat", enabled=True).exists()
    assert "created" in capsys.readouterr().out


def _worker_backends() -> dict[int, object]:
    """The test database's other sessions (the worker's), pid -> when its last query began."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return dict(cursor.fetchall())


@pytest.mark.integration
@pytest.mark.postgresql  # a worker subprocess cannot open SQLite's in-memory test database
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_across_tasks():
    """Celery's Django fixup would close it around every task (a new PostgreSQL backend per
    task); the worker follows CONN_MAX_AGE instead."""
    from probes import tasks as probe_tasks

    earlier = set(_worker_backends())  # sessions other tests' threads may have left open

    def workers() -> dict:
        return {pid: at for pid, at in _worker_backends().items() if pid not in earlier}

    with running_worker(queues="probes", extra_env={"DATABASE_URL": worker_database_url()}):
        probe_tasks.dispatch.delay()
        first = wait_for(workers, timeout=40)  # still connected after its task
        probe_tasks.dispatch.delay()
        wait_for(lambda: any((workers().get(pid) or at) > at for pid, at in first.items()), timeout=40)
        assert set(workers()) == set(first)  # the second task used the same session
