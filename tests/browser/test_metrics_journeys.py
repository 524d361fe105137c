from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.defaults import ensure_severities
from incidents.models import Incident
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.metrics import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_dashboard_and_filters_to_one_team(page, live_server, manager):
    ensure_severities()  # a transactional test before this one may have flushed the seeded rows
    now = timezone.now()
    boss = UserFactory(username="ic")
    payments = TeamFactory(name="Payments", slug="payments")
    search = TeamFactory(name="Search", slug="search")
    billing = ServiceFactory(name="Billing API", slug="billing-api", owner_team=payments)
    index = ServiceFactory(name="Indexer", slug="indexer", owner_team=search)
    for i in range(6):
        factories.create(
            detected_at=now - timedelta(days=2 + i * 3), ttd=5 + i, tta=3, ttm=30, ttr=60 + 10 * i, level=1 + i % 3,
            team=payments, service=billing, services=[billing], commander=boss,
            source=Incident.DetectionSource.SUPPORT if i % 2 else Incident.DetectionSource.MONITORING,
        )  # fmt: skip
    for i in range(3):
        factories.create(
            detected_at=now - timedelta(days=4 + i * 5), ttd=40, tta=5, ttm=90, ttr=240, level=2,
            team=search, service=index, services=[index], commander=boss,
        )  # fmt: skip
    factories.create(detected_at=now - timedelta(hours=2), ttd=2, level=1, team=payments, service=billing,
                     title="Card payments failing")  # fmt: skip

    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#panel-open")).to_contain_text("Card payments failing")
    expect(page.locator("#metric-incidents")).to_have_text("10 incidents")
    charts = page.locator("#panel-trends svg.ops-chart")
    expect(charts).to_have_count(3)
    expect(charts.first).to_be_visible()
    expect(page.locator("#panel-trends")).to_contain_text("Incidents per week by severity")
    expect(page.locator("#content-main")).to_contain_text("Incidents")  # the app list is still there
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "metrics_dashboard.png"), full_page=True)
    shoot(page, "dashboard")
    shoot(page, "dashboard-trends", at=page.locator("#panel-trends"))
    median_all = page.locator("#metric-time_to_resolve td").nth(2).inner_text()

    page.locator("#id_team").select_option(label="Search")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#metric-incidents")).to_have_text("3 incidents")
    expect(page.locator("#id_team")).to_have_value(str(search.pk))
    expect(page.locator("#metric-time_to_resolve td").nth(2)).to_have_text("4.0 h")
    assert median_all != "4.0 h"
    expect(page.locator("#panel-open")).to_contain_text("No open incidents.")
    page.screenshot(path=str(ARTIFACTS / "metrics_dashboard_team.png"), full_page=True)
