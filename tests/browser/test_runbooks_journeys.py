from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from runbooks import services
from runbooks.models import Runbook
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_searches_opens_the_tls_runbook_and_marks_it_reviewed(page, live_server, responder):
    edge = TeamFactory(name="Edge & Domains", slug="edge")
    tls_service = ServiceFactory(name="TLS certificate manager", slug="tls-manager", owner_team=edge)
    tls = RunbookFactory(
        title="TLS certificate renewal for a custom domain", slug="tls-certificate-renewal",
        owner_team=edge, services=[tls_service],
        scenarios="Certificate expires in less than 14 days",
        mitigation="1. Retry the order: `tlsctl renew $DOMAIN --force`",
    )  # fmt: skip
    RunbookFactory(title="Billing webhook backlog", body="Stripe retries for three days.")
    RunbookFactory(title="Edge node replacement", body="Old nodes cache an expired certificate.")
    now = timezone.now()
    lead = UserFactory(username="edge-lead", is_staff=True, is_superuser=True)
    services.record_test(
        runbook=tls, actor=lead, evidence_note="game day", tested_at=now - timedelta(days=130)
    )
    services.mark_reviewed(runbook=tls, actor=lead, at=now - timedelta(days=100))

    login(page, live_server, "responder", PASSWORD)
    page.goto(f"{live_server.url}/runbooks/")
    page.get_by_label("Search runbooks").fill("certificate")
    page.get_by_label("Search runbooks").press("Enter")

    results = page.locator("#runbook-results tbody tr")
    expect(results).to_have_count(2)
    expect(results.first).to_contain_text("TLS certificate renewal for a custom domain")
    expect(results.first).to_contain_text("TLS certificate manager")
    expect(results.first).to_contain_text("Edge & Domains")
    expect(results.first.locator(".op-badge")).to_have_text("Review due")
    expect(page.locator("#runbook-results")).not_to_contain_text("Billing webhook backlog")
    shoot(page, "runbooks-search")

    page.get_by_role("link", name="TLS certificate renewal for a custom domain").click()
    expect(page.get_by_role("heading", name="TLS certificate renewal for a custom domain")).to_be_visible()
    expect(page.locator("#h-mitigation + ol code")).to_have_text("tlsctl renew $DOMAIN --force")
    expect(page.locator("#runbook-freshness")).to_have_text("Review due")

    page.get_by_label("Review note (optional)").fill("Walked through the steps; still right.")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator(".messages")).to_contain_text("Marked reviewed")
    expect(page.locator("#runbook-freshness")).to_have_text("Fresh")
    expect(page.locator("#runbook-reviewed")).to_contain_text("Walked through the steps")

    tls.refresh_from_db()
    assert tls.reviewed_by == responder
    assert tls.freshness == Runbook.Freshness.FRESH
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "runbook-reviewed.png"), full_page=True)
    shoot(page, "runbook-reviewed")
