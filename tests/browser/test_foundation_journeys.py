import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_logs_into_admin_and_sees_the_catalog(page, live_server, manager):
    team = TeamFactory(name="Payments", manager=manager)
    ServiceFactory(name="Billing API", owner_team=team, tier="tier-1")
    login(page, live_server, "manager", PASSWORD)
    expect(page.locator("#site-name")).to_contain_text("Ops Portal")
    page.get_by_role("link", name="Services").first.click()
    expect(page.locator("#result_list")).to_contain_text("Billing API")
    expect(page.locator("#result_list")).to_contain_text("Payments")
    expect(page.locator("#result_list .op-badge").first).to_have_text("Tier 1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-catalog.png"))
    shoot(page, "catalog-services")


def test_support_signs_in_on_the_plain_page(page, live_server, support_user):
    TeamFactory(name="Edge & Domains")
    login(page, live_server, "support", PASSWORD, admin=False)
    expect(page.get_by_role("heading", name="Your escalations")).to_be_visible()
    page.get_by_role("link", name="Service directory").click()
    expect(page.get_by_role("heading", name="Service directory")).to_be_visible()
    expect(page.get_by_role("heading", name="Edge & Domains")).to_be_visible()
    shoot(page, "service-directory")
    page.goto(f"{live_server.url}/admin/catalog/service/")
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
