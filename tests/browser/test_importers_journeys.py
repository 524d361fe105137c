"""A manager moves in from PagerDuty through the admin: a dry run, the plan, apply, and the
verification report. The source is the local PagerDuty fake (tests/importers/fakes.py); the
run's Celery task executes eagerly in the test process."""

import pytest
from playwright.sync_api import expect

from importers.models import ImportRun
from oncall.models import Schedule
from opsportal.celery import app
from tests.browser.conftest import login, shoot
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.importers import fakes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_tasks(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_manager_dry_runs_reads_the_plan_applies_and_sees_the_verification(
    page, live_server, manager, settings, eager_tasks
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    for i, u in enumerate(fakes.USERS):
        UserFactory(username=f"person{i}", email=u["email"])
    fake = fakes.pagerduty()
    try:
        login(page, live_server, "manager", PASSWORD)
        page.goto(f"{live_server.url}/admin/importers/importrun/add/")
        page.get_by_label("Source").select_option("pagerduty")
        page.get_by_label("Base url").fill(fake.base)
        page.get_by_label("Api key").fill("pd-key")
        shoot(page, "import-start-dry-run")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")

        page.get_by_role("link", name="PagerDuty import #").first.click()
        expect(page.locator(".field-status")).to_contain_text("Dry run done (plan ready)")
        plan = page.locator("table.import-plan")
        expect(plan).to_contain_text("Legacy odd rotation")
        expect(plan).to_contain_text("is not a whole number of hours")
        expect(page.locator(".field-summary_display")).to_contain_text("schedule: 1 cannot map, 7 create")
        assert not Schedule.objects.exists()  # the dry run changed nothing
        shoot(page, "import-plan", at=plan)

        page.get_by_role("button", name="Apply this plan").click()
        expect(page.locator(".messagelist")).to_contain_text("Applying")
        page.get_by_role("link", name="PagerDuty import #").first.click()
        expect(page.locator(".field-status")).to_contain_text("Applied (verified)")
        report = page.locator("table.import-verification")
        expect(report).to_contain_text("Platform primary")
        expect(report.locator("tr", has_text="Platform primary")).to_contain_text("100.0 % agreement")
        expect(report).not_to_contain_text(" 0 shifts in the source")
        expect(report.locator("tr", has_text="Legacy odd rotation")).to_contain_text("not mapped")
        shoot(page, "import-verification", at=report)
    finally:
        fake.close()
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.APPLIED
    assert run.api_key == ""  # wiped when the run finished
    assert Schedule.objects.count() == 7
    assert all(v["agreement"] == 100.0 for v in run.verification if v["mapped"])
