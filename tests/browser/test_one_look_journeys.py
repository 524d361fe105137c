"""One look in a real browser (issue 21, part 3): dark mode chosen in the admin follows the
person to the portal pages; the profile's time zone changes how every time reads."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_BG = "() => getComputedStyle(document.body).backgroundColor"


def test_dark_mode_chosen_in_the_admin_follows_to_the_portal_and_back(page, live_server, responder):
    login(page, live_server, "responder", PASSWORD)
    page.wait_for_load_state("load")  # the admin's theme.js wires the toggle on "load"
    light_admin = page.evaluate(_BG)
    page.locator("#header .theme-toggle").click()  # auto (light system) -> dark
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate(_BG) != light_admin

    page.goto(f"{live_server.url}/runbooks/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate(_BG) == "rgb(11, 18, 32)"  # --ops-bg, dark
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "one-look-runbooks-dark.png"))

    page.locator("header.site .theme-toggle").click()  # dark -> light, from the portal
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert page.evaluate(_BG) == "rgb(245, 247, 250)"  # --ops-bg, light
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")


def test_the_profile_time_zone_changes_every_time_shown(page, live_server, responder):
    login(page, live_server, "responder", PASSWORD)
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.locator("#profile-now")).to_contain_text("UTC")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Times are now shown in Asia/Tokyo")
    expect(page.locator("#profile-now")).to_contain_text("JST")
    assert "(Asia/Tokyo)" in page.locator("#profile-now time").get_attribute("title")
    # the admin header links the profile from the person's name
    page.goto(f"{live_server.url}/admin/")
    page.locator("#user-tools a[href='/accounts/profile/']").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/profile/")
