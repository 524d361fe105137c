import pytest
from playwright.sync_api import expect

from accounts.services import create_token
from readiness.models import Release
from tests.browser.conftest import login, shoot
from tests.conftest import PASSWORD
from tests.readiness.factories import make_release, ready_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_release_lead_reviews_waives_a_failing_check_signs_off_and_the_gate_says_go(
    page, live_server, release_lead
):
    world = ready_world(lead=release_lead)
    release = make_release(world, name="Billing API", version="2.14.0", rollback_tested_at=None)

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

    # the automatic rollback check fails with its reason
    page.get_by_role("button", name="Re-evaluate automatic checks").click()
    rollback = page.locator("#item-rollback-tested")
    expect(rollback.locator("[data-testid=state]")).to_have_text("Fail")
    expect(rollback.locator(".check-reasons")).to_contain_text("rollback was never tested")

    shoot(page, "readiness-review-failing-check", at=rollback)

    # signing is refused while it fails
    page.get_by_role("button", name="Sign off").click()
    expect(page.locator(".messagelist")).to_contain_text("Cannot sign yet")

    # waive it with a reason
    rollback.get_by_label("State for rollback-tested").select_option("waived")
    rollback.get_by_label("Waiver reason for rollback-tested").fill(
        "Config-only change; rollback is a flag flip."
    )
    rollback.get_by_role("button", name="Save").click()
    expect(page.locator("#item-rollback-tested [data-testid=state]")).to_have_text("Waived")
    expect(page.locator("#item-rollback-tested")).to_contain_text("waived by")

    page.get_by_role("button", name="Sign off").click()
    expect(page.locator(".messagelist")).to_contain_text("Signed off.")
    expect(page.locator("#signatures")).to_contain_text("valid")
    expect(page.get_by_test_id("gate-decision")).to_have_text("GO")
    shoot(page, "readiness-review-go")

    # the pipeline asks the gate with its token
    _token, key = create_token(user=release_lead, actor=release_lead, name="release pipeline")
    response = page.request.get(
        f"{live_server.url}/api/v1/releases/{release.pk}/gate/",
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status == 200
    body = response.json()
    assert body["decision"] == "go", body
    assert body["reasons"] == []
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    waived = release.review.items.get(key="rollback-tested")
    assert waived.waived_by == release_lead
