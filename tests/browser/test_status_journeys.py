"""Status page journey: a manager posts an external update in the admin, an anonymous
visitor sees it with the component in partial outage, and the page recovers on resolve."""

import pytest
from playwright.sync_api import expect

from incidents.defaults import ensure_severities
from incidents.models import Severity
from incidents.services import declare_incident
from status import cache
from status.models import Component
from tests.browser.conftest import ARTIFACTS, DOCS_VIEWPORT, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_external_update_reaches_the_public_page_and_resolution_clears_it(
    browser, page, live_server, manager
):
    ensure_severities()
    cache.invalidate()
    team = TeamFactory(name="Web", manager=manager)
    service = ServiceFactory(name="Checkout backend", slug="checkout-backend", owner_team=team, tier="tier-1")
    Component.objects.create(service=service, name="Checkout", group="Dashboard", order=1)
    incident = declare_incident(
        title="Checkout returns errors",
        severity=Severity.objects.get(level=2),
        services=[service],
        actor=manager,
    )

    visitor = browser.new_context(viewport=DOCS_VIEWPORT).new_page()  # anonymous, no session
    visitor.goto(f"{live_server.url}/status/")
    # nobody published it for customers yet: nothing of it shows
    expect(visitor.locator("#component-" + Component.objects.get().public_id)).not_to_contain_text(
        "Partial outage"
    )

    login(page, live_server, "manager", PASSWORD)
    page.on("dialog", lambda dialog: dialog.accept())  # the room confirms Resolve
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    publish = page.locator("#publish-form")
    publish.get_by_label("Public title").fill("Checkout errors")
    publish.get_by_label("Message for customers").fill("Some checkouts fail.")
    publish.get_by_role("button", name="Publish on the status page").click()
    expect(page.locator("#room-status")).to_contain_text("Public")
    form = page.locator("#post-update-form")
    form.get_by_label("Customers (status page)").check()
    form.get_by_label("Text").fill("Some checkouts fail; we are rolling back the last deploy.")
    form.get_by_role("button", name="Post update").click()
    expect(page.locator(".messagelist")).to_contain_text("Update posted")

    visitor.goto(f"{live_server.url}/status/")
    expect(visitor.get_by_role("status").first).to_contain_text("Partial system outage")
    expect(visitor.locator("#active-h")).to_be_visible()
    expect(visitor.locator("main")).to_contain_text("we are rolling back the last deploy")
    component_row = visitor.locator(".component", has_text="Checkout")
    expect(component_row.locator(".st")).to_have_text("Partial outage")
    ARTIFACTS.mkdir(exist_ok=True)
    visitor.screenshot(path=str(ARTIFACTS / "status-page-outage.png"), full_page=True)
    shoot(visitor, "status-page-outage")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".messagelist")).to_contain_text("is resolved")

    visitor.goto(f"{live_server.url}/status/")
    expect(visitor.get_by_role("status").first).to_have_text("All systems operational")
    expect(component_row.locator(".st")).to_have_text("No data")  # no probe covers it
    expect(visitor.locator("#active-h")).to_have_count(0)
    visitor.screenshot(path=str(ARTIFACTS / "status-page-operational.png"), full_page=True)
    shoot(visitor, "status-page-operational")
    visitor.context.close()
