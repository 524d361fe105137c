import pytest
from playwright.sync_api import expect

from accounts.services import create_token
from readiness.models import Release
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.readiness.factories import make_release, ready_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_off_is_disabled_with_reasons_until_the_owning_manager_waives_and_the_lead_signs(
    browser, page, live_server, release_lead
):
    """Issue 21 part 6: Sign off is disabled while a check fails, with the reasons beside it;
    the release lead cannot waive an automatic check (four eyes): the owning team's manager
    does, the review and the gate answer show who and why, and the lead signs."""
    world = ready_world(lead=release_lead)
    release = make_release(world, name="Billing API", version="2.14.0", rollback_tested_at=None)
    manager = world.team.manager

    login(page, live_server, "releaselead", PASSWORD)
    page.goto(f"{live_server.url}/admin/readiness/release/?awaiting=")
    shoot(page, "releases-awaiting-signoff")
    page.get_by_role("link", name="Billing API 2.14.0").click()
    page.get_by_role("link", name="Open the readiness review").click()
    expect(page.get_by_test_id("gate-decision")).to_have_text("NO-GO")
    page.get_by_role("button", name="Start readiness review").click()
    expect(page.locator(".messagelist")).to_contain_text("Readiness review started.")

    # manual items: pass with evidence
    for key in ("support-comms", "escalation-path"):
        row = page.locator(f"#item-{key}")
        row.get_by_label(f"State for {key}").select_option("pass")
        row.get_by_label(f"Evidence link for {key}").fill(f"https://docs.example.com/billing-2-14/{key}")
        row.get_by_role("button", name="Save").click()
        expect(page.locator(".messagelist")).to_contain_text("Saved")
        expect(page.locator(f"#item-{key} [data-testid=state]")).to_have_text("Pass")

    # the automatic rollback check fails with its reason; Sign off is disabled, reasons beside it
    page.get_by_role("button", name="Re-evaluate automatic checks").click()
    rollback = page.locator("#item-rollback-tested")
    expect(rollback.locator("[data-testid=state]")).to_have_text("Fail")
    expect(rollback.locator(".check-reasons")).to_contain_text("rollback was never tested")
    expect(page.get_by_role("button", name="Sign off")).to_be_disabled()
    expect(page.get_by_test_id("sign-off-reasons")).to_contain_text("rollback was never tested")
    # the release lead may not waive it: the option is disabled and the rule is said
    expect(rollback.locator("option[value=waived]")).to_be_disabled()
    expect(rollback.get_by_test_id("waiver-rule")).to_contain_text(f"the manager of {world.team.name}")
    page.screenshot(path=str(ARTIFACTS / "readiness-sign-off-disabled.png"))

    shoot(page, "readiness-review-failing-check", at=rollback)

    # the owning team's manager waives it with a reason
    other = browser.new_context(viewport={"width": 1366, "height": 768})
    mgr_page = other.new_page()
    login(mgr_page, live_server, manager.username, PASSWORD)
    mgr_page.goto(f"{live_server.url}/admin/readiness/release/{release.pk}/review/")
    row = mgr_page.locator("#item-rollback-tested")
    row.get_by_label("State for rollback-tested").select_option("waived")
    row.get_by_label("Waiver reason for rollback-tested").fill("Config-only change; rollback is a flag flip.")
    row.get_by_role("button", name="Save").click()
    expect(mgr_page.locator("#item-rollback-tested [data-testid=state]")).to_have_text("Waived")
    other.close()

    # the lead reloads: the waiver says who and why, Sign off is enabled
    page.reload()
    expect(rollback.get_by_test_id("waiver")).to_contain_text(f"waived by {manager}")
    expect(rollback.get_by_test_id("waiver")).to_contain_text("flag flip")
    expect(page.locator("#gate .op-warnings")).to_contain_text(f"waived by {manager}")
    page.get_by_role("button", name="Sign off").click()
    expect(page.locator(".messagelist")).to_contain_text("Signed off. The release is approved.")
    expect(page.locator("#signatures")).to_contain_text("valid")
    expect(page.get_by_test_id("gate-decision")).to_have_text("GO")
    page.screenshot(path=str(ARTIFACTS / "readiness-signed.png"))
    shoot(page, "readiness-review-go")

    # the pipeline asks the gate with its token: go, with the waiver in the warnings
    _token, key = create_token(user=release_lead, actor=release_lead, name="release pipeline")
    response = page.request.get(
        f"{live_server.url}/api/v1/releases/{release.pk}/gate/",
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status == 200
    body = response.json()
    assert body["decision"] == "go", body
    assert body["reasons"] == []
    assert any(f"waived by {manager}" in w and "flag flip" in w for w in body["warnings"]), body
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    waived = release.review.items.get(key="rollback-tested")
    assert waived.waived_by == manager
