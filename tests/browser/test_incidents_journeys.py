import pytest
from playwright.sync_api import expect

from incidents.defaults import ensure_severities
from incidents.models import Incident, StatusUpdate
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_declares_acknowledges_updates_and_resolves_a_sev2(page, live_server, manager):
    ensure_severities()  # a transactional test before this one may have flushed the seeded rows
    team = TeamFactory(name="Payments", manager=manager)
    ServiceFactory(name="Billing API", slug="billing-api", owner_team=team, tier="tier-1")
    login(page, live_server, "manager", PASSWORD)
    page.on("dialog", lambda dialog: dialog.accept())  # the room confirms Resolve

    # Declare: title + severity + service is enough (not the commander this time).
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    page.locator("#op-declare-button").click()
    page.get_by_label("Title").fill("Card payments failing")
    page.locator("label", has_text="SEV-2").first.click()
    page.get_by_label("I am the commander").uncheck()
    page.locator(".field-services .select2-selection").click()
    page.locator(".select2-search__field").fill("Billing")
    page.locator(".select2-results__option", has_text="Billing API").click()
    shoot(page, "incident-declare")
    page.get_by_role("button", name="Declare incident").click()
    expect(page.locator(".messagelist")).to_contain_text("declared (SEV-2)")
    incident = Incident.objects.get()
    assert incident.severity.level == 2
    assert incident.owning_team == team

    # The change page: acknowledge, post an update, resolve.
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Acknowledged {incident.reference}")
    update_form = page.locator("#post-update-form")
    update_form.get_by_label("Customers (status page)").check()
    update_form.get_by_label("Text").fill("Card payments fail for some customers; a fix is rolling out.")
    update_form.get_by_label("Also make this the customer message").check()
    update_form.get_by_role("button", name="Post update").click()
    expect(page.locator(".messagelist")).to_contain_text("Update posted")
    expect(page.locator("#incident-timeline")).to_contain_text("a fix is rolling out")
    shoot(page, "incident-acknowledged")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{incident.reference} is resolved")

    # The timeline tells the story, newest first.
    rows = page.locator("#incident-timeline .room-event")
    expect(rows).to_have_count(5)
    expect(rows.nth(4)).to_contain_text("Declared SEV-2")
    expect(rows.nth(3)).to_contain_text("On-call was NOT paged")  # its team has no policy yet
    expect(rows.nth(2)).to_contain_text("Acknowledged by")
    expect(rows.nth(1)).to_contain_text("External update: Card payments fail")
    expect(rows.nth(0)).to_contain_text("investigating -> resolved")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incident-timeline.png"), full_page=True)
    shoot(page, "incident-timeline", at=page.locator("#incident-timeline"))

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.commander == manager
    assert incident.customer_message.startswith("Card payments fail")
    assert StatusUpdate.objects.filter(incident=incident).count() == 1

    # The list shows the resolved incident with its badges.
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    expect(page.locator("#result_list")).to_contain_text("Card payments failing")
    expect(page.locator("#result_list .op-badge").first).to_have_text("SEV-2")
