"""Done when: a pipeline script reports 200 deploys through the API for three services,
incidents are declared after some of them, people confirm or deny the suggested causes, and
the dashboard and /api/v1/metrics/delivery/ show DORA's four keys exactly as an independent
computation over the generated history says - including deploys with no incident, incidents
with two candidate deploys, a rollback that restores service and an incident not mitigated
yet - and the weekday / readiness breakdown renders.

The independent computation below reads only the script's own record of what it reported
(never the database), and implements the definitions of docs/deployments.md from scratch.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles
from accounts.services import create_token
from deployments import selectors, services
from incidents import services as incident_services
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import severity

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
FIRST = NOW - timedelta(days=27)
PERIOD = {"start": (NOW - timedelta(days=29)).date().isoformat(), "end": NOW.date().isoformat()}
WINDOW = timedelta(hours=24)
NINETY = timedelta(days=90)


def percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the two closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * fraction
    lo = int(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


# --- the pipeline script -------------------------------------------------------------------


def run_pipeline(api, rng, slugs) -> list[dict]:
    """200 deploys, reported start then finish through the API; every tenth start is sent
    twice (a retried step) and must return the first record."""
    history = []
    step = (NOW - FIRST - timedelta(hours=6)) / 200
    for i in range(200):
        started = FIRST + step * i + timedelta(minutes=rng.randrange(30))
        svc = [rng.choice(slugs)] if i % 25 else sorted(rng.sample(slugs, 2))  # a few change two services
        outcome = rng.choices(["succeeded", "failed", "rolled_back"], weights=[80, 10, 10])[0]
        finished = started + timedelta(minutes=rng.randrange(3, 40))
        commit = started - timedelta(minutes=rng.randrange(20, 3000)) if i % 17 else None
        body = {
            "client_key": f"gha-run-{i}", "services": svc, "version": f"3.{i // 10}.{i % 10}",
            "started_at": started.isoformat(), "pipeline_url": f"https://ci.example.com/runs/{i}",
            "triggered_by": "merge to main", "commit_sha": f"{i:040x}",
        }  # fmt: skip
        if commit is not None:
            body["commit_at"] = commit.isoformat()
        r = api.post("/api/v1/deployments/", body, format="json")
        assert r.status_code == 201, r.content
        deployment_id = r.json()["id"]
        if i % 10 == 0:
            again = api.post("/api/v1/deployments/", {**body, "version": "ignored"}, format="json")
            assert again.status_code == 200
            assert again.json()["id"] == deployment_id
            assert again.json()["version"] == body["version"]
        r = api.post(
            f"/api/v1/deployments/{deployment_id}/finish/",
            {"outcome": outcome, "finished_at": finished.isoformat()},
            format="json",
        )
        assert r.status_code == 200, r.content
        history.append(
            {
                "id": deployment_id,
                "services": svc,
                "started": started,
                "finished": finished,
                "commit": commit,
                "outcome": outcome,
                "incidents": [],
            }
        )
    return history


def declare_incidents(rng, history, by_slug, responder) -> list[dict]:
    """Incidents after some deploys: most succeeded deploys have none; a rolled-back one
    causes one whose mitigation comes after the rollback (the rollback restored service);
    one stays unmitigated."""
    incidents = []
    succeeded = [d for d in history if d["outcome"] == "succeeded" and len(d["services"]) == 1]
    rolled_back = [d for d in history if d["outcome"] == "rolled_back" and len(d["services"]) == 1]
    chosen = [*rng.sample(succeeded[:-3], 14), rolled_back[len(rolled_back) // 2]]
    for n, d in enumerate(sorted(chosen, key=lambda d: d["started"])):
        if d["outcome"] == "rolled_back":
            impact = d["started"] + timedelta(minutes=1)  # during the deploy; the rollback ends it
            mitigated = d["finished"] + timedelta(minutes=45)
        else:
            impact = d["finished"] + timedelta(minutes=rng.randrange(5, 600))
            mitigated = impact + timedelta(minutes=rng.randrange(10, 300))
        if n == 3:
            mitigated = None  # still being worked on
        incident = incident_services.declare_incident(
            title=f"Errors after deploy {n}", severity=severity(2), services=[by_slug[d["services"][0]]],
            actor=responder, started_at=impact, detected_at=impact + timedelta(minutes=3),
        )  # fmt: skip
        if mitigated is not None:
            incident_services.mitigate(incident=incident, actor=responder, at=mitigated)
        incidents.append({"incident": incident, "cause": d, "impact": impact, "mitigated": mitigated})
    return incidents


def candidates(history, slug, impact) -> list[dict]:
    """Independent: deploys of the service started before impact that went live no earlier
    than the window before it."""
    return [
        d for d in history
        if slug in d["services"] and d["started"] <= impact and d["finished"] >= impact - WINDOW
    ]  # fmt: skip


# --- the independent computation ----------------------------------------------------------


def expected(history) -> dict:
    def restored(d):
        options = []
        if d["outcome"] == "rolled_back" or d["outcome"] == "failed":
            options.append(d["finished"])
        options += [i["mitigated"] for i in d["incidents"] if i["mitigated"] is not None]
        return min(options) if options else None

    def keys(rows):
        failures = [d for d in rows if d["outcome"] != "succeeded" or d["incidents"]]
        lead = [(d["finished"] - d["commit"]).total_seconds() for d in rows
                if d["outcome"] == "succeeded" and d["commit"] is not None]  # fmt: skip
        ttr = [(restored(d) - d["started"]).total_seconds() for d in failures if restored(d) is not None]
        return {
            "deployments": len(rows),
            "completed": len(rows),
            "succeeded": sum(1 for d in rows if d["outcome"] == "succeeded"),
            "change_failures": len(failures),
            "change_failure_rate": round(len(failures) / len(rows), 4) if rows else None,
            "lead_median": percentile(lead, 0.5),
            "lead_p90": percentile(lead, 0.9),
            "lead_count": len(lead),
            "ttr_median": percentile(ttr, 0.5),
            "ttr_p90": percentile(ttr, 0.9),
            "ttr_count": len(ttr),
            "ttr_excluded": len(failures) - len(ttr),
        }

    def rollback_tested(d):
        return any(
            o["outcome"] == "rolled_back" and set(o["services"]) & set(d["services"])
            and d["started"] - NINETY <= o["finished"] <= d["started"]
            for o in history
        )  # fmt: skip

    slugs = sorted({s for d in history for s in d["services"]})
    return {
        "overall": keys(history),
        "weekday": {w: keys([d for d in history if d["started"].weekday() == w]) for w in range(7)},
        "hour": {h: keys([d for d in history if d["started"].hour == h]) for h in range(24)},
        "rollback_tested": keys([d for d in history if rollback_tested(d)]),
        "not_rollback_tested": keys([d for d in history if not rollback_tested(d)]),
        "service": {s: keys([d for d in history if s in d["services"]]) for s in slugs},
    }


def assert_counts(got: dict, want: dict, where: str) -> None:
    for key in ("deployments", "completed", "succeeded", "change_failures", "change_failure_rate"):
        assert got[key] == want[key], (where, key, got[key], want[key])


def assert_keys(got: dict, want: dict, where: str) -> None:
    assert_counts(got, want, where)
    for name, stats in (("lead", got["lead_time"]), ("ttr", got["time_to_restore"])):
        assert stats["count"] == want[f"{name}_count"], (where, name)
        for p in ("median", "p90"):
            expected_value = want[f"{name}_{p}"]
            if expected_value is None:
                assert stats[f"{p}_seconds"] is None, (where, name, p)
            else:
                assert stats[f"{p}_seconds"] == pytest.approx(expected_value, abs=0.01), (where, name, p)
    assert got["time_to_restore"]["excluded"] == want["ttr_excluded"], where


@pytest.fixture
def world():
    pipeline = UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])
    responder = UserFactory(username="ravi", is_staff=True, roles=[roles.RESPONDERS])
    manager = UserFactory(username="maya", is_staff=True, roles=[roles.MANAGERS])
    web, payments = TeamFactory(name="Web", slug="web"), TeamFactory(name="Payments", slug="payments")
    by_slug = {
        "checkout-api": ServiceFactory(slug="checkout-api", owner_team=web),
        "search": ServiceFactory(slug="search", owner_team=web),
        "billing-api": ServiceFactory(slug="billing-api", owner_team=payments),
    }
    return pipeline, responder, manager, by_slug


def test_a_pipeline_reports_200_deploys_and_the_four_keys_match_an_independent_computation(
    api_client, client, world
):
    pipeline, responder, manager, by_slug = world
    rng = random.Random(24)
    with time_machine.travel(NOW, tick=False):
        _token, key = create_token(user=pipeline, actor=pipeline, name="GitHub Actions deploy workflow")
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        history = run_pipeline(api_client, rng, sorted(by_slug))
        incidents = declare_incidents(rng, history, by_slug, responder)

        # the incident room: confirm the real cause, deny the other candidates
        two_candidates = 0
        for item in incidents:
            incident, cause = item["incident"], item["cause"]
            suggested = selectors.suggestions(incident)
            want = candidates(history, cause["services"][0], item["impact"])
            assert {s.deployment.pk for s in suggested} == {d["id"] for d in want[-5:]} or len(want) > 5
            assert cause["id"] in {s.deployment.pk for s in suggested}
            two_candidates += len(suggested) >= 2
            for s in suggested:
                verdict = "confirmed" if s.deployment.pk == cause["id"] else "denied"
                services.decide_link(
                    actor=manager, deployment=s.deployment, incident=incident, verdict=verdict
                )
            cause["incidents"].append(item)
        assert two_candidates >= 1, "the history must hold an incident with two candidate deploys"
        assert any(i["cause"]["outcome"] == "rolled_back" and i["mitigated"] for i in incidents)

        want = expected(history)
        assert 0 < want["overall"]["change_failures"] < 200
        api_client.credentials()
        api_client.force_authenticate(manager)
        r = api_client.get("/api/v1/metrics/delivery/", PERIOD)
        assert r.status_code == 200, r.content
        got = r.json()

    assert_keys(got, want["overall"], "overall")
    for row in got["by_weekday"]:
        w = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].index(row["weekday"])
        if want["weekday"][w]["deployments"]:
            assert_counts(row, want["weekday"][w], f"weekday {row['weekday']}")
        else:
            assert row["deployments"] == 0
            assert row["change_failure_rate"] is None
    for row in got["by_hour"]:
        assert row["deployments"] == want["hour"][row["hour"]]["deployments"]
        assert row["change_failures"] == want["hour"][row["hour"]]["change_failures"]
    readiness = {row["evidence"]: row for row in got["by_readiness"]}
    assert_counts(readiness["rollback tested within 90 days"], want["rollback_tested"], "rollback tested")
    assert_counts(readiness["rollback not tested within 90 days"], want["not_rollback_tested"], "not tested")
    assert readiness["unreviewed deploy"]["deployments"] == 200  # no deploy came through a release
    assert readiness["reviewed release"]["deployments"] == 0
    for row in got["by_service"]:
        assert_keys(row, want["service"][row["service"]], f"service {row['service']}")
    assert sum(w["count"] for w in got["per_week"]) == 200
    assert got["deployments_per_day"] == pytest.approx(200 / 30, abs=0.001)

    # the dashboard shows the same numbers, and the breakdown chart renders
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/admin/", PERIOD)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="panel-delivery"' in html
    rate = round(100 * want["overall"]["change_failures"] / 200)
    assert f"{rate}%" in html
    assert f"{want['overall']['change_failures']} of 200" in html
    assert 'id="delivery-weekday-chart"' in html
    assert "<svg" in html.split('id="delivery-weekday-chart"')[1][:200]
    assert "rollback tested within 90 days" in html
    assert "unreviewed deploy" in html


def test_the_delivery_report_runs_a_fixed_number_of_queries(api_client, world):
    """Query count independent of rows: 20 deploys and 80 deploys cost the same."""
    pipeline, _responder, manager, by_slug = world
    from tests.deployments.factories import deploy

    api_client.force_authenticate(manager)
    counts = []
    with time_machine.travel(NOW, tick=False):
        assert (
            api_client.get("/api/v1/metrics/delivery/", PERIOD).status_code == 200
        )  # warms the user's perms
        for batch in (20, 60):
            for i in range(batch):
                started = FIRST + timedelta(hours=5 * i + batch)
                deploy(actor=pipeline, service=list(by_slug.values())[i % 3], started_at=started,
                       outcome="failed" if i % 7 == 0 else "succeeded")  # fmt: skip
            with CaptureQueriesContext(connection) as ctx:
                assert api_client.get("/api/v1/metrics/delivery/", PERIOD).status_code == 200
            counts.append(len(ctx.captured_queries))
    # PostgreSQL: SET LOCAL jit = off, the summary, per-week counts, trends, weekday x hour x evidence counts, per
    # service and per team (one query each);
    # SQLite adds one percentile query per statistic with a percentile
    assert counts[0] == counts[1]
    if connection.vendor == "postgresql":
        assert counts[0] == 9  # + SAVEPOINT / RELEASE: the test runs inside a transaction
