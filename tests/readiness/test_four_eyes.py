"""Release sign-off four eyes (issue 21, part 6), through the services, the admin, the API and
the gate.

Before: one release lead could waive "rollback never tested", "open SEV-2 on the service" and
"runbook review overdue" and then sign alone, and the release was approved. Now:
- waiving an automatic check needs the named engineering manager of a team owning one of the
  release's services (the change-freeze check ``no_major_incidents`` always does);
- whoever waived anything cannot be the only signer: a second-signer slot opens, which another
  release lead or an owning team's manager signs;
- the waiver shows who and why on the review page and in the gate answer's warnings;
- the review page's Sign off button is disabled while checks fail, with the reasons beside it.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import roles
from opsportal.errors import Conflict, NotAllowed
from readiness import selectors, services
from readiness.models import Release, ReviewItem
from readiness.permissions import SECOND_SIGNER_SLOT
from tests.factories import UserFactory
from tests.incidents.factories import declare
from tests.readiness.factories import complete_manual_items, make_release, ready_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(release_lead):
    return ready_world(lead=release_lead)


@pytest.fixture
def failing(world):
    """In review with the three automatic checks of the issue failing: rollback never tested,
    an open SEV-2 on the service (change freeze), runbook review overdue."""
    release = make_release(world, rollback_tested_at=None)
    world.runbook.last_reviewed_at = timezone.now() - timedelta(days=200)
    world.runbook.save()
    declare(level=2, service=world.service)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    return release


def item(release, key) -> ReviewItem:
    return release.review.items.get(key=key)


FAILING = ("rollback-tested", "change-freeze", "runbooks")


def test_the_issue_scenario_is_refused_a_release_lead_cannot_waive_automatic_checks(failing, world):
    assert {k: item(failing, k).state for k in FAILING} == dict.fromkeys(FAILING, "fail")
    for key in FAILING:
        with pytest.raises(NotAllowed, match="engineering manager of a team"):
            services.update_item(
                item=item(failing, key), actor=world.lead, state="waived", waiver_reason="ship it"
            )
        assert item(failing, key).state == "fail"  # nothing changed
    with pytest.raises(Conflict, match="Cannot sign yet"):
        services.sign(release=failing, actor=world.lead)
    failing.refresh_from_db()
    assert failing.status == Release.Status.IN_REVIEW


def test_a_manager_of_another_team_cannot_waive_and_the_owning_manager_can(failing, world):
    stranger = UserFactory(username="other-mgr", is_staff=True, roles=[roles.MANAGERS])
    with pytest.raises(NotAllowed):
        services.update_item(
            item=item(failing, "rollback-tested"), actor=stranger, state="waived", waiver_reason="x"
        )
    for key in FAILING:
        services.update_item(
            item=item(failing, key),
            actor=world.team.manager,
            state="waived",
            waiver_reason=f"accepted: {key}",
        )
    assert {k: item(failing, k).waived_by for k in FAILING} == dict.fromkeys(FAILING, world.team.manager)
    services.sign(release=failing, actor=world.lead)  # four eyes: the manager waived, the lead signs
    failing.refresh_from_db()
    assert failing.status == Release.Status.APPROVED
    result = selectors.gate(failing)
    assert result.decision == "go", result.reasons
    for key in FAILING:
        assert (
            f"'{item(failing, key).title}' waived by {world.team.manager}: accepted: {key}" in result.warnings
        )


def test_the_change_freeze_waiver_always_needs_the_manager_even_on_a_manual_item(failing, world):
    freeze = item(failing, "change-freeze")
    ReviewItem.objects.filter(pk=freeze.pk).update(check_key="")  # a template that made it manual
    freeze.refresh_from_db()
    freeze.key = "no_major_incidents"
    freeze.save()
    with pytest.raises(NotAllowed):
        services.update_item(item=freeze, actor=world.lead, state="waived", waiver_reason="ship it")


def test_a_release_lead_waives_a_manual_item_but_cannot_then_be_the_only_signer(world):
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.update_item(
        item=item(release, "support-comms"),
        actor=world.lead,
        state="waived",
        waiver_reason="internal-only change",
    )
    services.sign(release=release, actor=world.lead)
    release.refresh_from_db()
    assert release.status == Release.Status.IN_REVIEW
    content = selectors.signed_content(release, release.review.items.all())
    assert selectors.missing_slots(release.review, content) == [SECOND_SIGNER_SLOT]
    result = selectors.gate(release)
    assert result.decision == "no-go"
    assert any("cannot be the only signer" in r for r in result.reasons), result.reasons
    assert (
        f"'{item(release, 'support-comms').title}' waived by {world.lead}: internal-only change"
        in result.warnings
    )
    with pytest.raises(Conflict, match="cannot be the only signer"):
        services.sign(release=release, actor=world.lead)
    # another release lead is the second pair of eyes
    second = UserFactory(username="lead-two", is_staff=True, roles=[roles.RELEASE_LEADS])
    sig = services.sign(release=release, actor=second)
    assert sig.slot == SECOND_SIGNER_SLOT
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    assert selectors.gate(release).decision == "go"


def test_the_owning_manager_can_be_the_second_signer_but_not_an_outsider(world):
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.update_item(
        item=item(release, "support-comms"), actor=world.lead, state="waived", waiver_reason="n/a"
    )
    services.sign(release=release, actor=world.lead)
    outsider = UserFactory(username="resp", is_staff=True, roles=[roles.RESPONDERS])
    with pytest.raises(NotAllowed):
        services.sign(release=release, actor=outsider)
    services.sign(release=release, actor=world.team.manager)
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED


def test_a_change_after_the_second_signature_invalidates_it_like_any_other(world):
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.update_item(
        item=item(release, "support-comms"), actor=world.lead, state="waived", waiver_reason="n/a"
    )
    services.sign(release=release, actor=world.lead)
    services.sign(release=release, actor=world.team.manager)
    services.update_item(
        item=item(release, "escalation-path"), actor=world.lead, state="pass", evidence_note="new path"
    )
    release.refresh_from_db()
    assert release.status == Release.Status.IN_REVIEW
    assert selectors.gate(release).decision == "no-go"


# --- admin ----------------------------------------------------------------------------------


def test_admin_review_page_disables_sign_off_with_the_reasons_beside_it(client, failing, world):
    client.force_login(world.lead)
    url = reverse("admin:readiness_release_review", args=[failing.pk])
    body = client.get(url).content.decode()
    assert 'disabled aria-describedby="sign-off-reasons">Sign off</button>' in body
    assert 'data-testid="sign-off-reasons"' in body
    assert "rollback was never tested" in body.split('data-testid="sign-off-reasons"')[1]
    assert 'data-testid="waiver-rule"' in body  # the lead is told who may waive


def test_admin_refuses_the_release_leads_waiver_with_a_message_and_changes_nothing(client, failing, world):
    client.force_login(world.lead)
    url = reverse("admin:readiness_release_review", args=[failing.pk])
    target = item(failing, "rollback-tested")
    resp = client.post(
        url, {"action": "item", "item": target.pk, "state": "waived", "waiver_reason": "ship it"}, follow=True
    )
    assert "needs the engineering manager of a team" in resp.content.decode()
    target.refresh_from_db()
    assert (target.state, target.waived_by) == ("fail", None)


def test_admin_manager_waives_lead_signs_and_the_page_shows_who_and_why(client, failing, world):
    client.force_login(world.team.manager)
    url = reverse("admin:readiness_release_review", args=[failing.pk])
    for key in FAILING:
        client.post(
            url, {"action": "item", "item": item(failing, key).pk, "state": "waived", "waiver_reason": "ok'd"}
        )
    client.force_login(world.lead)
    body = client.get(url).content.decode()
    assert f"waived by <strong>{world.team.manager}</strong>: ok&#x27;d" in body
    assert '<button class="ops-btn" type="submit">Sign off</button>' in body
    resp = client.post(url, {"action": "sign"}, follow=True)
    assert "Signed off. The release is approved." in resp.content.decode()


def test_admin_sole_signer_who_waived_sees_why_a_second_signer_is_needed(client, world):
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    client.force_login(world.lead)
    url = reverse("admin:readiness_release_review", args=[release.pk])
    client.post(
        url,
        {
            "action": "item",
            "item": item(release, "support-comms").pk,
            "state": "waived",
            "waiver_reason": "n/a",
        },
    )
    resp = client.post(url, {"action": "sign"}, follow=True)
    body = resp.content.decode()
    assert "Signed off. Still missing: a second signer" in body
    assert "cannot be the only signer" in body
    assert 'disabled aria-describedby="sign-off-reasons"' in body


# --- API ----------------------------------------------------------------------------------------


def _api(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def test_api_waiver_by_the_release_lead_is_403_and_by_the_manager_200(failing, world):
    target = item(failing, "change-freeze")
    url = f"/api/v1/release-items/{target.pk}/update-state/"
    refused = _api(world.lead).post(url, {"state": "waived", "waiver_reason": "ship it"}, format="json")
    assert refused.status_code == 403
    assert "engineering manager" in refused.json()["detail"]
    target.refresh_from_db()
    assert target.state == "fail"
    ok = _api(world.team.manager).post(
        url, {"state": "waived", "waiver_reason": "fix is in this release"}, format="json"
    )
    assert ok.status_code == 200, ok.json()
    detail = _api(world.lead).get(f"/api/v1/releases/{failing.pk}/").json()
    assert f"'{target.title}' waived by {world.team.manager}: fix is in this release" in detail["warnings"]


def test_api_sign_and_gate_enforce_four_eyes(world):
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.update_item(
        item=item(release, "support-comms"), actor=world.lead, state="waived", waiver_reason="n/a"
    )
    lead = _api(world.lead)
    assert lead.post(f"/api/v1/releases/{release.pk}/sign/").status_code == 200
    gate = lead.get(f"/api/v1/releases/{release.pk}/gate/").json()
    assert gate["decision"] == "no-go"
    assert any("cannot be the only signer" in r for r in gate["reasons"])
    assert any("waived by" in w for w in gate["warnings"])
    again = lead.post(f"/api/v1/releases/{release.pk}/sign/")
    assert again.status_code == 409
    assert _api(world.team.manager).post(f"/api/v1/releases/{release.pk}/sign/").status_code == 200
    assert lead.get(f"/api/v1/releases/{release.pk}/gate/").json()["decision"] == "go"
