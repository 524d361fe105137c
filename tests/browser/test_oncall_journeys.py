from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, ScheduleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_sees_who_is_on_call_and_adds_an_override(page, live_server, manager):
    manager.first_name, manager.last_name = "Maya", "Chen"
    manager.save()
    team = TeamFactory(name="Payments", manager=manager)
    ann = UserFactory(username="ann", first_name="Ann", last_name="Arbor")
    ben = UserFactory(username="ben", first_name="Ben", last_name="Bay")
    schedule = ScheduleFactory(team=team, name="Payments primary", time_zone="Europe/Berlin")
    LayerFactory(schedule=schedule, rotation_unit="days", people=[ann, ben])
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime.now(UTC)
    on_call = ann if (now.astimezone(berlin).date() - schedule.layers.get().start_date).days % 2 == 0 else ben
    if now.astimezone(berlin).hour < 9:  # before today's 09:00 handoff: yesterday's person
        on_call = ben if on_call == ann else ann

    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/oncall/schedule/")
    row = page.locator("#result_list tr", has_text="Payments primary")
    expect(row).to_contain_text(str(on_call))
    row.get_by_role("link", name="Payments primary").click()

    expect(page.locator("#oc-on-call-now")).to_contain_text(str(on_call))
    expect(page.locator("#oc-calendar .oc-row")).to_have_count(28)
    expect(page.locator("#oc-calendar")).to_contain_text("Ann Arbor")
    expect(page.locator("#oc-calendar .oc-override")).to_have_count(0)

    local_now = now.astimezone(berlin)
    form = page.locator("#oc-quick-override")
    form.get_by_label("Who").select_option(str(manager.pk))
    form.get_by_label("From").fill((local_now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Until").fill((local_now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Reason").fill("I'll take it")
    form.get_by_role("button", name="Add override").click()

    expect(page.locator(".messagelist")).to_contain_text("Maya Chen is now on call")
    expect(page.locator("#oc-on-call-now")).to_contain_text("Maya Chen")
    expect(page.locator("#oc-on-call-now")).to_contain_text("override")
    expect(page.locator("#oc-calendar .oc-override").first).to_contain_text("Maya Chen")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oncall-schedule.png"), full_page=True)
    shoot(page, "oncall-schedule")
    shoot(page, "oncall-calendar", at=page.locator("#oc-calendar"))
    page.goto(f"{live_server.url}/admin/oncall/schedule/")
    expect(page.locator("#result_list tr", has_text="Payments primary")).to_contain_text("Maya Chen")
