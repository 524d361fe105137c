"""The readiness gate's ``error_budget`` check: no-go with the budget reason for a release on a
service that has (nearly) exhausted its budget, go after a waiver by the engineering manager of
the team owning the service (neither a release lead nor another team's manager may waive it),
and the gate answer carries the budget figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from opsportal.errors import NotAllowed
from readiness import selectors as gate_selectors
from readiness import services as readiness_services
from slos.models import SLO
from tests.factories import TeamFactory, UserFactory
from tests.readiness.factories import complete_manual_items, make_release, ready_world
from tests.slos.conftest import make_slo, steady, write

pytestmark = pytest.mark.django_db


def _burned_world(remaining_bad: int):
    world = ready_world(slug="checkout-api")
    slo = make_slo(
        service=world.service, name="Checkout availability", kind=SLO.Kind.PROBE_AVAILABILITY, objective="99",
        probes=[world.probe],
    )  # fmt: skip
    now = timezone.now().replace(second=0, microsecond=0)
    series = steady(now - timedelta(days=1), 1440, total=100)  # 144,000 checks: 1,440 bad allowed
    start = now - timedelta(hours=5)
    for i in range(remaining_bad // 100):
        series[start + timedelta(minutes=i)] = (0, 100)
    write(slo, series)
    return world, slo


def test_gate_says_no_go_with_the_budget_reason_and_go_after_a_managers_waiver(api_client):
    world, _slo = _burned_world(remaining_bad=1400)  # 1,400 of 1,440 spent: 3 % left
    release = make_release(world)
    readiness_services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    readiness_services.evaluate_checks(release=release, actor=world.lead)
    item = release.review.items.get(key="error-budget")
    assert item.state == "fail"

    result = gate_selectors.gate(release)
    assert result.decision == "no-go"
    assert result.reasons == [
        "check 'Error budget left on every service': checkout-api: 3 % of the 28-day availability budget left "
        "(Checkout availability) - below the 10 % minimum",
        "sign-off missing: release lead",  # nobody can sign while a required check fails
    ]
    [figures] = result.budgets
    assert figures["service"] == "checkout-api"
    assert figures["budget_remaining"] == pytest.approx(40 / 1440)
    assert figures["total"] == 144_000

    api_client.force_authenticate(world.lead)
    body = api_client.get(f"/api/v1/releases/{release.pk}/gate/").json()
    assert body["decision"] == "no-go"
    assert body["budgets"][0]["slo"] == "Checkout availability"
    assert body["budgets"][0]["budget_remaining"] == pytest.approx(40 / 1440)

    refused = (
        r"Waiving the automatic check 'Error budget left on every service' needs the engineering manager "
        r"of a team that owns one of the release's services \(four eyes\)"
    )
    with pytest.raises(NotAllowed, match=refused):
        readiness_services.update_item(
            item=item, actor=world.lead, state="waived", waiver_reason="ship the fix"
        )
    other_manager = UserFactory(is_staff=True, roles=[roles.MANAGERS])
    TeamFactory(manager=other_manager)  # manages a team, but not one that owns checkout-api
    with pytest.raises(NotAllowed, match=refused):
        readiness_services.update_item(
            item=item, actor=other_manager, state="waived", waiver_reason="ship the fix"
        )
    item.refresh_from_db()
    assert item.state == "fail"
    owning_manager = world.service.owner_team.manager
    assert owning_manager is not None
    assert owning_manager == world.team.manager
    readiness_services.update_item(
        item=item,
        actor=owning_manager,
        state="waived",
        waiver_reason="this release is the fix for the burn",
    )
    readiness_services.sign(release=release, actor=world.lead)
    result = gate_selectors.gate(release)
    assert result.decision == "go", result.reasons
    assert result.budgets[0]["budget_remaining"] == pytest.approx(40 / 1440)  # the figures still show


def test_exhausted_budget_says_exhausted_and_enough_budget_passes():
    world, slo = _burned_world(remaining_bad=1500)
    release = make_release(world)
    from readiness import checks

    reasons = checks.error_budget(release, now=timezone.now())
    assert reasons == [
        "checkout-api: 0 % of the 28-day availability budget left (Checkout availability) - exhausted"
    ]
    write(slo, steady(timezone.now().replace(second=0, microsecond=0) - timedelta(hours=5), 15, total=100))
    assert checks.error_budget(release, now=timezone.now()) == []  # 0 bad now: the whole budget left
