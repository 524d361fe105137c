"""Browser journey (issue 24, Done when): a manager sees a "likely caused by" suggestion in
the incident room, confirms it, and sees the change failure rate on the dashboard move."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import roles
from deployments.models import IncidentLink
from incidents.defaults import ensure_severities
from incidents.models import Incident
from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import PASSWORD
from tests.deployments.factories import deploy
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_confirms_a_suggested_cause_and_sees_the_change_failure_rate_move(page, live_server, manager):
    ensure_severities()  # a transactional test before this one may have flushed the seeded rows
    now = timezone.now().replace(second=0, microsecond=0)
    pipeline = UserFactory(username="ci-bot", is_staff=True, roles=[roles.RELEASE_LEADS])
    web = TeamFactory(name="Web", slug="web", manager=manager)
    checkout = ServiceFactory(name="Checkout API", slug="checkout-api", owner_team=web)
    for i in range(9):
        deploy(actor=pipeline, service=checkout, started_at=now - timedelta(days=6, hours=-i * 12),
               outcome="failed" if i == 4 else "succeeded", version=f"3.1.{i}")  # fmt: skip
    suspect = deploy(actor=pipeline, service=checkout, started_at=now - timedelta(hours=3, minutes=10),
                     minutes=10, version="3.2.0")  # fmt: skip
    impact = suspect.finished_at + timedelta(minutes=14)
    incident = declare(actor=manager, service=checkout, title="Checkout errors after deploy",
                       started_at=impact, detected_at=impact + timedelta(minutes=2))  # fmt: skip

    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    cfr = page.locator("#delivery-cfr")
    expect(cfr).to_contain_text("10%")
    expect(cfr).to_contain_text("1 of 10")
    expect(page.locator("#delivery-weekday-chart svg")).to_be_visible()

    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    panel = page.locator("#deploy-causes")
    expect(panel).to_contain_text("checkout-api 3.2.0")
    expect(panel).to_contain_text("14 min before impact began")
    expect(panel).to_contain_text("Not answered")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deployments-suggested-cause.png"), full_page=True)
    panel.get_by_role("button", name="Confirm checkout-api 3.2.0 caused this").click()
    expect(page.locator(".messagelist")).to_contain_text("caused by 3.2.0 confirmed")
    expect(page.locator("#deploy-causes .deploy-verdict")).to_have_text("Confirmed")
    expect(page.locator("#incident-timeline")).to_contain_text("Caused by checkout-api 3.2.0")
    link = IncidentLink.objects.get(incident=incident)
    assert (link.verdict, link.decided_by, link.minutes_before_impact) == ("confirmed", manager, 14)
    assert Incident.objects.get(pk=incident.pk).timeline.filter(data__verdict="confirmed").exists()

    page.goto(f"{live_server.url}/admin/")
    expect(cfr).to_contain_text("20%")
    expect(cfr).to_contain_text("2 of 10")
    page.screenshot(path=str(ARTIFACTS / "deployments-delivery-panel.png"), full_page=True)
