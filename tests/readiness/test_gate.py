"""The gate's decision table, the API gate (token auth for pipelines), pipeline reports and
``manage.py release_gate`` exit codes."""

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.services import create_token
from readiness import selectors, services
from readiness.models import Release
from tests.incidents.factories import declare
from tests.readiness.factories import complete_manual_items, make_release, ready_world

pytestmark = pytest.mark.django_db

WINDOWS = {
    "inside": timedelta(hours=-1),
    "before": timedelta(hours=2),
    "after": timedelta(hours=-5),
}


def categories(reasons):
    out = set()
    for r in reasons:
        if r.startswith("item '"):
            out.add("items")
        elif r.startswith("check '"):
            out.add("checks")
        elif r.startswith(("sign-off missing", "signature of")):
            out.add("signatures")
        elif r.startswith("deploy window"):
            out.add("window")
        else:
            out.add(r)
    return out


def build(*, items_ok: bool, checks_ok: bool, signatures: str, window: str) -> Release:
    world = ready_world()
    release = make_release(world, start_in=WINDOWS[window], length=timedelta(hours=3))
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    if signatures in ("valid", "invalid"):
        services.sign(release=release, actor=world.lead)
    if signatures == "invalid":
        # a later item change (still passing) leaves the signature standing for other items
        services.update_item(
            item=release.review.items.get(key="escalation-path"),
            actor=world.lead,
            state="pass",
            evidence_note="Escalation: payments director after 30 min.",
        )
    if not items_ok:
        services.update_item(
            item=release.review.items.get(key="support-comms"), actor=world.lead, state="pending"
        )
    if not checks_ok:
        declare(level=1, service=world.service)  # live data: a change freeze after signing
    release.refresh_from_db()
    return release


@pytest.mark.parametrize(
    ("items_ok", "checks_ok", "signatures", "window"),
    list(itertools.product([True, False], [True, False], ["valid", "missing", "invalid"], list(WINDOWS))),
)
def test_decision_table(items_ok, checks_ok, signatures, window):
    release = build(items_ok=items_ok, checks_ok=checks_ok, signatures=signatures, window=window)
    result = selectors.gate(release)
    expected = set()
    if not items_ok:
        expected.add("items")
    if not checks_ok:
        expected.add("checks")
    # any item change after signing invalidates the signature, so bad items never sit under a valid one
    if signatures != "valid" or not items_ok:
        expected.add("signatures")
    if window != "inside":
        expected.add("window")
    assert categories(result.reasons) == expected, result.reasons
    assert result.decision == ("go" if not expected else "no-go")


@pytest.mark.parametrize("window", ["before", "after"])
def test_window_not_enforced_when_the_setting_says_so(settings, window):
    settings.READINESS_GATE_ENFORCE_WINDOW = False
    release = build(items_ok=True, checks_ok=True, signatures="valid", window=window)
    assert selectors.gate(release).decision == "go"


def test_waived_failing_check_passes_the_gate():
    release = build(items_ok=True, checks_ok=True, signatures="missing", window="inside")
    lead = release.release_lead
    declare(level=2, service=release.services.get())
    services.evaluate_checks(release=release, actor=lead)
    manager = release.services.get().owner_team.manager  # the change freeze needs four eyes
    services.update_item(
        item=release.review.items.get(key="change-freeze"),
        actor=manager,
        state="waived",
        waiver_reason="fix is this release",
    )
    services.sign(release=release, actor=lead)
    result = selectors.gate(release)
    assert result.decision == "go"
    assert result.warnings[0] == (
        f"'{release.review.items.get(key='change-freeze').title}' waived by {manager}: fix is this release"
    )


def test_not_started_and_terminal_states_are_no_go(release_lead):
    world = ready_world(lead=release_lead)
    release = make_release(world)
    assert selectors.gate(release).reasons == ["readiness review not started"]
    services.cancel(release=release, actor=release_lead)
    release.refresh_from_db()
    assert selectors.gate(release).reasons == ["release is cancelled"]


def test_weekend_holiday_and_out_of_hours_warn_without_blocking(settings):
    from datetime import UTC, datetime

    settings.READINESS_HOLIDAYS = ["2026-12-26"]
    settings.READINESS_TIME_ZONE = "UTC"
    world = ready_world()
    release = make_release(world)
    release.window_start = datetime(2026, 12, 26, 22, 0, tzinfo=UTC)  # Saturday, a holiday, at night
    release.window_end = release.window_start + timedelta(hours=2)
    warnings = selectors.window_warnings(release)
    assert "the deploy window falls on a weekend" in warnings
    assert "the deploy window falls on a public holiday (2026-12-26)" in warnings
    assert not any("outside business hours" in w for w in warnings)  # on-call covers it
    from oncall.models import Schedule

    Schedule.objects.filter(team=world.team).delete()
    assert any("outside business hours" in w for w in selectors.window_warnings(release))
    release.window_start = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # Wednesday 10:00
    release.window_end = release.window_start + timedelta(hours=2)
    assert selectors.window_warnings(release) == []


class TestApi:
    def test_gate_with_a_pipeline_token(self, api_client, release_lead):
        release = build(items_ok=True, checks_ok=True, signatures="valid", window="inside")
        _token, key = create_token(user=release_lead, actor=release_lead, name="release pipeline")
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        r = api_client.get(f"/api/v1/releases/{release.pk}/gate/")
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["decision"] == "go"
        assert body["reasons"] == []
        assert body["checked_at"]
        release.refresh_from_db()
        assert release.last_gate_decision == "go"
        r = api_client.post(f"/api/v1/releases/{release.pk}/shipped/")
        assert r.status_code == 200
        assert r.json()["status"] == "shipped"
        r = api_client.post(f"/api/v1/releases/{release.pk}/shipped/")
        assert r.status_code == 409
        r = api_client.post(f"/api/v1/releases/{release.pk}/rolled-back/")
        assert r.status_code == 200
        assert r.json()["status"] == "rolled_back"
        assert api_client.get(f"/api/v1/releases/{release.pk}/gate/").json()["decision"] == "no-go"

    def test_gate_needs_authentication_and_a_role(
        self, api_client, api_as, support_user, outsider, responder
    ):
        release = build(items_ok=True, checks_ok=True, signatures="missing", window="inside")
        assert api_client.get(f"/api/v1/releases/{release.pk}/gate/").status_code == 401
        assert api_as(support_user).get(f"/api/v1/releases/{release.pk}/gate/").status_code == 403
        assert api_as(outsider).get(f"/api/v1/releases/{release.pk}/gate/").status_code == 403
        assert api_as(support_user).get("/api/v1/releases/").status_code == 403
        r = api_as(responder).get(f"/api/v1/releases/{release.pk}/gate/")
        assert r.status_code == 200
        assert r.json()["decision"] == "no-go"
        assert api_as(responder).post(f"/api/v1/releases/{release.pk}/sign/").status_code == 403
        assert api_as(responder).post(f"/api/v1/releases/{release.pk}/shipped/").status_code == 403


class TestCommand:
    def test_go_exits_zero(self):
        release = build(items_ok=True, checks_ok=True, signatures="valid", window="inside")
        out = StringIO()
        call_command("release_gate", str(release.pk), stdout=out)
        assert f"{release}: GO" in out.getvalue()

    def test_no_go_exits_one_with_reasons(self):
        release = build(items_ok=True, checks_ok=True, signatures="missing", window="inside")
        out = StringIO()
        with pytest.raises(SystemExit) as exc:
            call_command("release_gate", release.name, release.version, stdout=out)
        assert exc.value.code == 1
        assert "NO-GO" in out.getvalue()
        assert "  - sign-off missing: release lead" in out.getvalue()

    def test_unknown_release(self):
        with pytest.raises(CommandError) as exc:
            call_command("release_gate", "no-such-release")
        assert exc.value.returncode == 2
