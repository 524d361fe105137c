"""The healthchecks.io-compatible ping endpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from probes import ingest
from probes.models import Probe, ProbeAlert
from tests.probes.factories import HeartbeatFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    ingest.windows.clear()
    yield
    cache.clear()
    ingest.windows.clear()


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_ping_answers_ok_without_login_or_csrf(csrf_client, method):
    probe = HeartbeatFactory()
    response = getattr(csrf_client, method)(f"/ping/{probe.uuid}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "no-store" in response["Cache-Control"]  # never cached by a proxy in between
    if method != "head":
        assert response.content == b"OK"
    probe.refresh_from_db()
    assert probe.state == "up"
    assert probe.last_ping_at is not None


UNKNOWN = "5d1a4bd6-8a3c-4d2e-9a43-0c1f8f0f3b71"


@pytest.mark.parametrize(
    "path", [f"/ping/{UNKNOWN}", "/ping/not-a-uuid", f"/ping/{UNKNOWN}/fail", f"/ping/{UNKNOWN}/start"]
)
def test_unknown_or_malformed_uuid_gets_the_same_answer(client, path):
    response = client.get(path)
    assert (response.status_code, response.content) == (200, b"OK")


def test_ping_of_a_network_probe_changes_nothing(client):
    from tests.probes.factories import ProbeFactory

    probe = ProbeFactory()
    assert client.get(f"/ping/{probe.uuid}").content == b"OK"
    probe.refresh_from_db()
    assert probe.state == "new"
    assert probe.last_ping_at is None


def test_fail_marks_down_at_once_with_the_posted_reason(csrf_client):
    probe = HeartbeatFactory(failure_threshold=5)
    csrf_client.get(f"/ping/{probe.uuid}")
    response = csrf_client.post(
        f"/ping/{probe.uuid}/fail", data=b"exit 1: disk full", content_type="text/plain"
    )
    assert response.content == b"OK"
    probe.refresh_from_db()
    assert probe.state == Probe.State.DOWN
    assert probe.last_error == "the job reported a failure: exit 1: disk full"
    assert ProbeAlert.objects.filter(probe=probe, status="open").count() == 1


def test_start_then_success_records_the_duration(client):
    probe = HeartbeatFactory()
    client.get(f"/ping/{probe.uuid}/start")
    probe.refresh_from_db()
    assert probe.last_start_at is not None
    assert probe.state == "new"
    client.post(f"/ping/{probe.uuid}")
    probe.refresh_from_db()
    assert probe.last_duration_ms is not None
    assert probe.last_duration_ms >= 0
    assert probe.results.get().latency_ms == probe.last_duration_ms


def test_exit_status_form(client):
    probe = HeartbeatFactory()
    client.get(f"/ping/{probe.uuid}/0")
    probe.refresh_from_db()
    assert probe.state == "up"
    client.get(f"/ping/{probe.uuid}/3")
    probe.refresh_from_db()
    assert probe.state == "down"
    assert client.get(f"/ping/{probe.uuid}/256").status_code == 400


def test_other_methods_are_refused(client):
    probe = HeartbeatFactory()
    assert client.put(f"/ping/{probe.uuid}").status_code == 405


def test_pings_are_rate_limited_per_url_without_revealing_existence(client, settings):
    settings.PROBE_PING_RATE = "3/m"
    probe = HeartbeatFactory()
    unknown = uuid.uuid4()
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC), tick=False):  # mid-window
        for path in (f"/ping/{probe.uuid}", f"/ping/{unknown}"):
            answers = [client.get(path).status_code for _ in range(5)]
            assert answers == [200, 200, 200, 429, 429]
    with time_machine.travel(datetime(2026, 3, 2, 12, 1, 0, tzinfo=UTC), tick=False):  # the next window
        assert client.get(f"/ping/{probe.uuid}").status_code == 200
    assert probe.results.count() == 4  # limited pings are not recorded
