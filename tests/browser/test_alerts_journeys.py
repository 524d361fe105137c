"""A manager points Alertmanager at the portal: creates the integration in the admin, copies
its URL (shown once), a test alert posted to it shows up in the alert groups list with its
routing explanation."""

from datetime import date

import pytest
from playwright.sync_api import expect

from tests.alerts.conftest import am_payload
from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_creates_alertmanager_integration_and_sees_a_test_alert(page, live_server, manager, settings):
    settings.SITE_URL = live_server.url
    team = TeamFactory(name="Payments", manager=manager)
    primary = ScheduleFactory(team=team, name="Primary")
    LayerFactory(schedule=primary, people=[UserFactory(username="ann")], start_date=date(2020, 1, 6))
    level(PolicyFactory(team=team, name="Payments primary", is_team_default=True), 1, schedules=[primary])
    ServiceFactory(owner_team=team, name="Billing API", slug="billing-api")

    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/alerts/integration/add/")
    page.get_by_label("Service").select_option(label="Billing API")
    page.get_by_label("Name").fill("Prometheus production")
    page.get_by_label("Kind").select_option("alertmanager")
    page.get_by_role("button", name="Save", exact=True).click()

    secret = page.locator(".messagelist code.alerts-secret-url")
    expect(secret).to_contain_text("/integrations/")
    url = secret.inner_text().strip()
    assert url.startswith(f"{live_server.url}/integrations/")
    assert url.endswith("/alertmanager")
    expect(page.locator(".messagelist")).to_contain_text(
        "send_resolved: true"
    )  # the alertmanager.yml snippet
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alerts-integration-created.png"), full_page=True)

    # The URL is shown once: the change page shows only the key's first characters.
    page.get_by_role("link", name="Prometheus production").first.click()
    expect(page.locator("body")).not_to_contain_text(url)

    response = page.request.post(url, data=am_payload(runbook_url="https://runbooks.example.com/errors"),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status == 202

    page.goto(f"{live_server.url}/admin/alerts/alertgroup/")
    row = page.locator("#result_list tr", has_text="HighErrorRate")
    expect(row).to_contain_text("Billing API")
    expect(row).to_contain_text("Firing")
    expect(row).to_contain_text(
        "no rule matched; severity critical -> page Payments primary (severity mapping)"
    )
    page.screenshot(path=str(ARTIFACTS / "alerts-groups-list.png"), full_page=True)
    row.get_by_role("link").first.click()
    expect(page.locator("body")).to_contain_text("https://runbooks.example.com/errors")
