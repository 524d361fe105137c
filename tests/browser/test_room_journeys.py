"""Incident room journeys (issue 21): declaring from the dashboard, running the incident from
the top of its room, the refused close that starts the postmortem, a responder acknowledging,
support offered the open incident before filing, and a status page that shows nothing of an
incident nobody published for customers."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from escalations.models import Escalation
from incidents.defaults import ensure_severities
from incidents.models import Incident, StatusUpdate
from postmortems.models import Postmortem
from status import cache
from status.models import Component
from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import PASSWORD
from tests.escalations.factories import paged_service
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.factories import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


class Clicks:
    """Counts the clicks a person makes (typing and pressing Enter are not clicks)."""

    def __init__(self) -> None:
        self.n = 0

    def click(self, locator) -> None:
        self.n += 1
        locator.click()


def no_sideways_scroll(page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url} scrolls sideways at {inner}px: {width}px wide"


def test_manager_declares_from_the_dashboard_runs_the_room_and_starts_the_postmortem(
    page, live_server, manager
):
    ensure_severities()
    team = TeamFactory(name="Payments", manager=manager)
    ServiceFactory(name="Billing API", slug="billing-api", owner_team=team, tier="tier-1")
    page.on("dialog", lambda dialog: dialog.accept())  # "Resolve INC-...?" confirmations
    login(page, live_server, "manager", PASSWORD)

    # Declare a SEV-2 from the dashboard in under 5 clicks.
    page.goto(f"{live_server.url}/admin/")
    clicks = Clicks()
    clicks.click(page.locator("#op-declare-button"))
    expect(page.get_by_role("heading", name="Declare an incident")).to_be_visible()
    expect(page.locator('input[name="severity"]:checked')).to_have_count(0)  # no default severity
    expect(page.get_by_label("I am the commander")).to_be_checked()
    page.get_by_label("Title").fill("Card payments failing")  # focused on load
    clicks.click(page.locator("label", has_text="SEV-2").first)
    clicks.click(page.locator(".field-services .select2-selection"))
    page.keyboard.type("Billing")
    expect(page.locator(".select2-results__option--highlighted", has_text="Billing API")).to_be_visible()
    page.keyboard.press("Enter")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "declare-incident.png"), full_page=True)
    clicks.click(page.get_by_role("button", name="Declare incident"))
    assert clicks.n < 5

    incident = Incident.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text(f"{incident.reference} declared (SEV-2)")
    assert incident.severity.level == 2
    assert incident.commander == manager
    room = page.locator("#incident-room")
    expect(room.locator(".room-title")).to_have_text("Card payments failing")
    expect(page.locator("#room-countdown")).to_contain_text("next update due in")

    # An internal update, then a customer update that is also the customer message, both from
    # the composer at the top of the room.
    composer = page.locator("#post-update-form")
    composer.get_by_label("Text").fill("Card authorisations time out at the gateway; rolling back.")
    composer.get_by_role("button", name="Post update").click()
    expect(page.locator(".messagelist")).to_contain_text("Update posted")
    composer.get_by_label("Customers (status page)").check()
    composer.get_by_role("button", name="Investigating", exact=True).click()  # a template
    composer.get_by_label("Text").fill("Some card payments fail; retry in a few minutes.")
    composer.get_by_label("Also make this the customer message").check()
    expect(page.locator("#room-preview")).to_contain_text("Some card payments fail")
    composer.get_by_role("button", name="Post update").click()
    expect(page.locator(".messagelist")).to_contain_text("Update posted")
    feed = page.locator("#incident-timeline .room-event")
    expect(feed.first).to_contain_text("External update: Some card payments fail")  # newest first
    assert StatusUpdate.objects.filter(incident=incident).count() == 2

    # The 1366x768 picture of the room, for the docs.
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    no_sideways_scroll(page)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "incident-room.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incident-room-full.png"), full_page=True)

    # Resolve; closing is refused for the missing postmortem, and the refusal starts it.
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{incident.reference} is resolved")
    page.get_by_role("button", name="Close", exact=True).click()
    refusal = page.locator(".messagelist .error")
    expect(refusal).to_contain_text("cannot be closed yet: a published postmortem is required")
    page.screenshot(path=str(ARTIFACTS / "incident-room-close-refused.png"))
    refusal.get_by_role("button", name="Start postmortem").click()
    postmortem = Postmortem.objects.get(incident=incident)
    expect(page).to_have_url(f"{live_server.url}/admin/postmortems/postmortem/{postmortem.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text("Postmortem started, prefilled from the incident")
    incident.refresh_from_db()
    assert incident.status == "resolved"

    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    expect(page.locator("#room-postmortem")).to_contain_text("Draft")
    expect(page.locator("#room-postmortem")).to_contain_text("due")


def test_responder_acknowledges_from_the_room(page, live_server, manager, responder):
    ensure_severities()
    team = TeamFactory(name="Search", manager=manager)
    service = ServiceFactory(name="Search API", slug="search-api", owner_team=team)
    incident = declare(actor=manager, level=3, service=service, title="Search is slow")
    login(page, live_server, "responder", PASSWORD)
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    expect(page.locator(".room-role", has_text="Commander")).to_contain_text("unassigned")
    page.locator(".room-actions").get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Acknowledged {incident.reference}")
    expect(page.locator(".room-role", has_text="Commander")).to_contain_text(str(responder))
    expect(page.locator(".room-milestones")).to_contain_text("Acknowledged")
    expect(page.locator(".room-actions").get_by_role("button", name="Acknowledge")).to_have_count(0)
    incident.refresh_from_db()
    assert incident.acknowledged_by == responder
    assert incident.commander == responder
    # the feed filters hide and show kinds of events
    page.get_by_label("State changes").uncheck()
    expect(page.locator(".room-event", has_text="Acknowledged by")).to_be_hidden()
    page.get_by_label("State changes").check()
    expect(page.locator(".room-event", has_text="Acknowledged by")).to_be_visible()
    # the Edit details tab holds the full form
    page.get_by_role("tab", name="Edit details").click()
    expect(page.locator("#incident_form")).to_be_visible()
    expect(page.locator("#post-update-form")).to_be_hidden()


def test_support_agent_is_offered_the_open_incident_before_filing(page, live_server, manager, support_user):
    ensure_severities()
    service = paged_service(name="Checkout", team_name="Payments")
    incident = declare(actor=manager, service=service, title="Checkout errors")
    from incidents import services

    services.set_customer_message(
        incident=incident, actor=manager, text="Some card payments fail; retry soon."
    )
    login(page, live_server, "support", PASSWORD, admin=False)
    page.goto(f"{live_server.url}/support/escalate/")
    expect(page.locator("#required-legend")).to_be_visible()
    offer = page.locator("#service-incident")
    expect(offer).to_be_hidden()
    page.get_by_label("Customer or account").fill("acme-corp")
    page.get_by_label("Contact").fill("ops@acme.example")
    page.get_by_label("Affected service").select_option(label="Checkout")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text(f"{incident.reference} is open on this service: Checkout errors")
    expect(offer).to_contain_text("Tell the customer: Some card payments fail; retry soon.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "support-offered-incident.png"), full_page=True)
    offer.get_by_role("button", name=f"Attach to {incident.reference}").click()
    expect(page.get_by_label(f"{incident.reference}: Checkout errors")).to_be_checked()
    page.get_by_label("What the customer sees").fill("Card declined at checkout.")
    page.get_by_label("Blocked - the customer cannot work").check()
    page.get_by_role("button", name="Send to engineering").click()
    expect(page.locator(".messages")).to_contain_text(f"your report is attached to {incident.reference}")
    assert Escalation.objects.get().incident == incident


def test_status_page_shows_nothing_of_an_incident_not_published_for_customers(
    browser, page, live_server, manager
):
    ensure_severities()
    cache.invalidate()
    team = TeamFactory(name="Web", manager=manager)
    service = ServiceFactory(name="Checkout backend", slug="checkout-backend", owner_team=team, tier="tier-1")
    Component.objects.create(service=service, name="Checkout", group="Dashboard", order=1)
    incident = declare(
        actor=manager, level=1, service=service, title="INTERNAL: db primary lost, failover stuck"
    )
    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    # an external update is posted, but nobody has published the incident for customers
    composer = page.locator("#post-update-form")
    composer.get_by_label("Customers (status page)").check()
    composer.get_by_label("Text").fill("We are looking into failed checkouts.")
    composer.get_by_role("button", name="Post update").click()
    expect(page.locator(".messagelist")).to_contain_text("Update posted")
    expect(page.locator("#room-status")).to_contain_text("Not public")

    visitor = browser.new_context().new_page()  # anonymous
    for url in ("/status/", "/status/api/summary.json", "/status/feed.atom", "/status/history/"):
        visitor.goto(f"{live_server.url}{url}")
        text = visitor.content()
        assert "INTERNAL" not in text, url
        assert "failed checkouts" not in text, url
    visitor.goto(f"{live_server.url}/status/")
    expect(visitor.get_by_role("status").first).to_have_text("All systems operational")
    expect(visitor.locator(".component", has_text="Checkout").locator(".st")).not_to_have_text("Major outage")
    ARTIFACTS.mkdir(exist_ok=True)
    visitor.screenshot(path=str(ARTIFACTS / "status-page-unpublished.png"), full_page=True)

    # A person publishes it: now customers see the public title, never the internal one.
    publish = page.locator("#publish-form")
    publish.get_by_label("Public title").fill("Checkout errors")
    publish.get_by_label("Message for customers").fill("Some checkouts fail; we are working on it.")
    publish.get_by_role("button", name="Publish on the status page").click()
    expect(page.locator("#room-status")).to_contain_text("Public")
    visitor.goto(f"{live_server.url}/status/")
    expect(visitor.locator("main")).to_contain_text("Checkout errors")
    expect(visitor.locator("main")).not_to_contain_text("INTERNAL")
    expect(visitor.locator(".component", has_text="Checkout").locator(".st")).to_have_text("Major outage")
    visitor.context.close()
