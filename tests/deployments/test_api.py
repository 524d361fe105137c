"""/api/v1/deployments/: token-authenticated pipeline reports, idempotent starts, one finish,
and bad input refused with nothing changed (400 field errors, 409 with the state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import roles
from accounts.services import create_token
from deployments.models import Deployment
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def pipeline(db):
    return UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])


@pytest.fixture
def token_client(api_client, pipeline):
    with time_machine.travel(NOW, tick=False):
        _token, key = create_token(user=pipeline, actor=pipeline, name="deploy workflow")
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        yield api_client


@pytest.fixture
def checkout(db):
    return ServiceFactory(slug="checkout-api")


def start(client, **overrides):
    body = {"client_key": "run-1", "services": ["checkout-api"], "version": "3.2.0",
            "started_at": (NOW - timedelta(minutes=20)).isoformat(),
            "commit_at": (NOW - timedelta(hours=3)).isoformat(), "commit_sha": "a" * 40}  # fmt: skip
    body.update(overrides)
    return client.post("/api/v1/deployments/", body, format="json")


def test_start_then_finish_with_a_token(token_client, checkout, pipeline):
    r = start(token_client)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["status"], body["environment"], body["services"]) == (
        "running",
        "production",
        ["checkout-api"],
    )
    r = token_client.post(
        f"/api/v1/deployments/{body['id']}/finish/", {"outcome": "succeeded"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "succeeded"
    assert r.json()["finished_at"] == "2026-03-02T12:00:00Z"
    d = Deployment.objects.get()
    assert d.reported_by == pipeline
    assert not d.change_failure


def test_a_repeated_key_returns_the_first_record_unchanged(token_client, checkout):
    first = start(token_client).json()
    again = start(token_client, version="9.9.9", services=["checkout-api"])
    assert again.status_code == 200
    assert again.json() == first
    assert Deployment.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"started_at": (NOW + timedelta(hours=1)).isoformat()}, "started_at"),
        ({"commit_at": (NOW + timedelta(hours=1)).isoformat()}, "commit_at"),
        ({"commit_at": (NOW - timedelta(minutes=5)).isoformat()}, "commit_at"),  # after the start
        ({"started_at": "2026-03-02T11:00:00"}, "started_at"),  # no zone
        ({"started_at": "1999-12-31T00:00:00Z"}, "started_at"),
        ({"services": []}, "services"),
        ({"services": ["no-such-service"]}, "services"),
        ({"version": ""}, "version"),
        ({"client_key": ""}, "client_key"),
        ({"environment": "prod uction"}, "environment"),
    ],
)
def test_bad_starts_are_400_and_record_nothing(token_client, checkout, overrides, field):
    r = start(token_client, **overrides)
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert not Deployment.objects.exists()


def test_finishing_twice_is_a_409_carrying_the_state(token_client, checkout):
    d = start(token_client).json()
    url = f"/api/v1/deployments/{d['id']}/finish/"
    assert token_client.post(url, {"outcome": "rolled_back"}, format="json").status_code == 200
    r = token_client.post(url, {"outcome": "succeeded"}, format="json")
    assert r.status_code == 409
    body = r.json()
    assert body["status"] == "rolled_back"
    assert "already finished" in body["detail"]
    assert Deployment.objects.get().status == "rolled_back"


def test_finishing_an_unknown_deployment_is_a_409(token_client, checkout):
    r = token_client.post("/api/v1/deployments/987654/finish/", {"outcome": "succeeded"}, format="json")
    assert r.status_code == 409
    assert r.json() == {"detail": "No deployment 987654 to finish.", "status": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "succeeded", "finished_at": "2026-03-02T11:00:00Z"}, "finished_at"),  # before the start
        ({"outcome": "succeeded", "finished_at": "2026-03-02T14:00:00Z"}, "finished_at"),  # future
        ({"outcome": "exploded"}, "outcome"),
        ({}, "outcome"),
    ],
)
def test_bad_finishes_are_400_and_change_nothing(token_client, checkout, body, field):
    d = start(token_client).json()
    r = token_client.post(f"/api/v1/deployments/{d['id']}/finish/", body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert Deployment.objects.get().status == "running"


def test_support_and_people_without_a_role_cannot_report(api_as, checkout, support_user, outsider):
    for user in (support_user, outsider):
        assert start(api_as(user)).status_code == 403
    assert not Deployment.objects.exists()


def test_the_list_runs_a_fixed_number_of_queries(api_as, manager, pipeline, django_assert_num_queries):
    from tests.deployments.factories import deploy

    services = [ServiceFactory() for _ in range(3)]
    client = api_as(manager)
    client.get("/api/v1/deployments/")  # warms the permission cache
    for n in (1, 50):
        while Deployment.objects.count() < n:
            i = Deployment.objects.count()
            deploy(actor=pipeline, service=services[i % 3], started_at=NOW - timedelta(hours=i + 1))
        # count, the page of deployments, their services (prefetch)
        with django_assert_num_queries(3):
            r = client.get("/api/v1/deployments/")
        assert r.json()["count"] == n


def test_report_deploy_command(pipeline, checkout, capsys):
    with time_machine.travel(NOW, tick=False):
        call_command("report_deploy", "start", "--as", "ci-bot", "--key", "gl-42", "--service", "checkout-api",
                     "--version", "3.2.0", "--commit-at", "2026-03-02T10:00:00Z")  # fmt: skip
        call_command("report_deploy", "start", "--as", "ci-bot", "--key", "gl-42", "--service", "checkout-api",
                     "--version", "3.2.0")  # fmt: skip
        call_command("report_deploy", "finish", "--as", "ci-bot", "--key", "gl-42", "--outcome", "failed")
        with pytest.raises(CommandError, match="already finished: failed"):
            call_command(
                "report_deploy", "finish", "--as", "ci-bot", "--key", "gl-42", "--outcome", "succeeded"
            )
        with pytest.raises(CommandError, match="Unknown service"):
            call_command("report_deploy", "start", "--as", "ci-bot", "--key", "x", "--service", "nope",
                         "--version", "1")  # fmt: skip
    out = capsys.readouterr().out
    assert "recorded: 3.2.0 running" in out
    assert "already recorded" in out
    assert "finished: 3.2.0 failed" in out
    d = Deployment.objects.get()
    assert (d.status, d.change_failure, d.commit_at) == ("failed", True, datetime(2026, 3, 2, 10, tzinfo=UTC))
