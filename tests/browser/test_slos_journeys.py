"""Browser journey: an engineering manager defines a probe-availability SLO in the admin,
previews its SLI and budget over the last 28 days before saving, and finds it on the dashboard."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from probes.models import ProbeResult
from slos.models import SLO
from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory
from tests.probes.factories import ProbeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_creates_a_probe_slo_sees_the_preview_and_finds_it_on_the_dashboard(
    page, live_server, manager
):
    team = TeamFactory(name="Web", slug="web")
    checkout = ServiceFactory(name="Checkout", slug="checkout-api", owner_team=team)
    probe = ProbeFactory(service=checkout, name="Checkout /health")
    now = timezone.now()
    # 1,000 checks over the last 10 days, 2 of them down: 99.80 %
    ProbeResult.objects.bulk_create(
        ProbeResult(
            probe=probe, checked_at=now - timedelta(minutes=15 * i + 1), outcome="down" if i in (10, 500) else "up",
            ok=i not in (10, 500), latency_ms=80.0,
        )
        for i in range(1000)
    )  # fmt: skip

    login(page, live_server, "manager", PASSWORD)
    page.goto(
        f"{live_server.url}/admin/slos/slo/add/?service={checkout.pk}&owner_team={team.pk}&probes={probe.pk}"
    )
    page.get_by_label("Name:").fill("Checkout availability")
    page.get_by_label("SLI kind:").select_option("probe_availability")
    page.get_by_label("Objective:").fill("99")
    page.get_by_label("Window:").select_option("28d")
    page.get_by_label("Description:").fill("A health check of checkout answers 200 within 5 s.")
    page.locator("#slo-preview-button").click()
    preview = page.locator("#slo-preview")
    expect(preview).to_contain_text(
        "the last 28 days were 99.80 % (998 good of 1000 checks): 80 % of budget left"
    )
    assert not SLO.objects.exists()  # a preview saves nothing
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "slos_preview.png"), full_page=True)

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    slo = SLO.objects.get()
    assert list(slo.probes.all()) == [probe]

    page.goto(f"{live_server.url}/admin/")
    panel = page.locator("#panel-slos")
    expect(panel).to_contain_text("Checkout availability")
    row = panel.locator(f"tr[data-slo='{slo.pk}']")
    expect(row).to_contain_text("99.800 %")
    expect(row).to_contain_text("80 %")
    expect(row.locator("svg.slo-burndown")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "slos_dashboard.png"), full_page=True)
