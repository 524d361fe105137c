"""Browser journey: a manager finds an overdue duty on the operating model page and reassigns it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.defaults import ensure_severities
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reassigns_an_overdue_duty_from_the_operating_model(page, live_server, manager):
    ensure_severities()
    team = TeamFactory(name="Payments", slug="payments", manager=manager)
    alice = UserFactory(username="alice", first_name="Alice", last_name="Ng")
    nia = UserFactory(username="nia", first_name="Nia", last_name="New")
    team.members.add(alice, nia)
    overdue = ResponsibilityFactory(
        team=team,
        title="Postmortem review",
        owner=alice,
        backup=None,
        first_due_on=(timezone.now() - timedelta(days=10)).date(),
    )
    ResponsibilityFactory(team=team, title="Backlog hygiene", owner=alice, backup=nia,
                          first_due_on=(timezone.now() + timedelta(days=5)).date())  # fmt: skip

    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/operating-model/")
    expect(page.get_by_role("heading", name="Operating model")).to_be_visible()
    expect(page.get_by_role("heading", name="Severity framework")).to_be_visible()
    row = page.locator(f"#duty-{overdue.pk}")
    expect(row.locator(".op-badge")).to_have_text("Overdue")
    expect(row.locator("td.owner")).to_have_text("Alice Ng")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "operating-model.png"), full_page=True)
    shoot(page, "operating-model", at=row)

    row.get_by_role("link", name="Postmortem review").click()
    expect(page.locator("#content h2").first).to_contain_text("Postmortem review")
    page.get_by_role("link", name="Reassign").click()
    page.get_by_label("Owner").select_option(label="Nia New (nia)")
    page.get_by_role("button", name="Reassign").click()

    expect(page).to_have_url(f"{live_server.url}/operating-model/#duty-{overdue.pk}")
    expect(page.locator(".messages")).to_contain_text("Postmortem review is now owned by Nia New")
    expect(page.locator(f"#duty-{overdue.pk} td.owner")).to_have_text("Nia New")
    overdue.refresh_from_db()
    assert overdue.owner == nia
