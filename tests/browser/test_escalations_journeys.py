"""Support files an escalation in a real browser; a responder acknowledges it in the admin;
support sees who acknowledged it."""

import pytest
from playwright.sync_api import expect

from accounts import roles
from escalations.models import Escalation
from incidents import services as incident_services
from incidents.defaults import ensure_severities
from incidents.models import Severity
from tests.browser.conftest import ARTIFACTS, DOCS_VIEWPORT, login, shoot
from tests.conftest import PASSWORD
from tests.escalations.factories import paged_service
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_escalates_and_sees_the_acknowledgement(page, live_server, browser):
    ensure_severities(Severity)  # transactional tests start from a flushed database
    support = UserFactory(username="support", first_name="Sam", last_name="Rivera", roles=[roles.SUPPORT])
    responder = UserFactory(
        username="responder", first_name="Ravi", last_name="Iyer", is_staff=True, roles=[roles.RESPONDERS]
    )
    checkout = paged_service(name="Checkout", team_name="Web")
    paged_service(name="Webhook delivery", team_name="Integrations")
    incident = incident_services.declare_incident(
        title="Card payments failing", severity=2, services=[checkout], actor=responder
    )
    incident_services.set_customer_message(
        incident=incident, actor=responder, text="Some card payments fail; retry in a few minutes."
    )

    # Support signs in, lands on their page and sees the open incident banner.
    login(page, live_server, "support", PASSWORD, admin=False)
    expect(page.get_by_role("heading", name="Your escalations")).to_be_visible()
    banner = page.get_by_role("region", name="Open incidents (1)")
    expect(banner).to_contain_text("Card payments failing")
    expect(banner).to_contain_text("Some card payments fail; retry in a few minutes.")
    shoot(page, "support-home")

    # ... and files an escalation for another service, keyboard-friendly labelled fields.
    page.get_by_role("link", name="Escalate a customer problem").click()
    expect(page.get_by_role("region", name="Open incidents (1)")).to_be_visible()
    page.get_by_label("No - this is something new").check()
    page.get_by_label("Customer or account").fill("globex")
    page.get_by_label("Contact").fill("it@globex.example")
    page.get_by_label("Affected service").select_option(label="Webhook delivery")
    page.get_by_label("What the customer sees").fill("Webhooks arrive 30 minutes late.")
    page.get_by_label("Degraded - slow, partly broken or has a workaround").check()
    page.get_by_label("Customers reporting it").fill("2")
    shoot(page, "support-escalate-form", at=page.get_by_label("What the customer sees"))
    page.get_by_role("button", name="Send to engineering").click()
    expect(page.locator(".messages")).to_contain_text("filed and sent to the")
    escalation = Escalation.objects.get()
    row = page.get_by_role("row").filter(has_text=escalation.reference)
    expect(row).to_contain_text("globex")
    expect(row).to_contain_text("New")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "support-escalations.png"), full_page=True)
    shoot(page, "support-escalation-filed")

    # A responder acknowledges it from the admin triage list.
    admin = browser.new_context(viewport=DOCS_VIEWPORT)
    admin_page = admin.new_page()
    login(admin_page, live_server, "responder", PASSWORD)
    admin_page.goto(f"{live_server.url}/admin/escalations/escalation/")
    admin_row = admin_page.get_by_role("row").filter(has_text=escalation.reference)
    expect(admin_row).to_contain_text("due in")
    shoot(admin_page, "escalation-triage")
    admin_row.get_by_role("checkbox").check()
    admin_page.get_by_role("combobox", name="Action").select_option(label="Acknowledge selected escalations")
    admin_page.get_by_role("button", name="Go", exact=True).click()
    expect(admin_page.locator(".messagelist")).to_contain_text(f"Acknowledged: {escalation.reference}")
    admin.close()

    # Support sees "acknowledged by ...".
    page.reload()
    row = page.get_by_role("row").filter(has_text=escalation.reference)
    expect(row).to_contain_text("Acknowledged")
    expect(row).to_contain_text("acknowledged by Ravi Iyer")
    shoot(page, "support-acknowledged")
    assert support.pk


@pytest.fixture(autouse=True)
def _purge_broker():
    """This journey really commits: drop the deliveries and escalation steps it published
    to the test broker so a later test's worker never processes them."""
    yield
    from opsportal.celery import app

    app.control.purge()
