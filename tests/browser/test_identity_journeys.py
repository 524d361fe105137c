"""Single sign-on in a real browser through a real OpenID Connect provider (tests/identity/idp,
django-oauth-toolkit): a person who exists only at the provider signs in through its login
page and lands with the role of their group; their group changes at the provider and at the
next sign-in their role follows."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts import roles
from tests.browser.conftest import ARTIFACTS
from tests.identity.conftest import PASSWORD, idp, sso  # noqa: F401  (the provider fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in_with_sso(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_role("link", name="Sign in with company SSO").click()


def test_a_person_known_only_to_the_provider_signs_in_with_the_role_of_their_group(page, live_server, sso):  # noqa: F811
    sso.register("http://testserver/sso/callback/", f"{live_server.url}/sso/callback/")
    sso.person("grace", groups=["oncall"], first="Grace", last="Hopper")
    assert not get_user_model().objects.filter(email="grace@example.com").exists()

    _sign_in_with_sso(page, live_server)
    # the provider's own login page
    expect(page.get_by_role("heading", name="Example Identity Provider")).to_be_visible()
    page.get_by_label("IdP username").fill("grace")
    page.get_by_label("IdP password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    # back in the portal, signed in, on the page first asked for
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text("Grace")
    grace = get_user_model().objects.get(email="grace@example.com")
    assert set(grace.groups.values_list("name", flat=True)) == {roles.RESPONDERS}
    # a responder does not see the sign-in audit
    expect(page.get_by_role("link", name="Audit events")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "sso-signed-in-responder.png"), full_page=True)

    # the provider moves Grace to the managers' group; she signs out and in again
    sso.person("grace", groups=["ops-managers"], first="Grace", last="Hopper")
    page.get_by_role("button", name="Log out").click()
    _sign_in_with_sso(page, live_server)  # still signed in at the provider: straight back
    expect(page).to_have_url(f"{live_server.url}/admin/")
    assert set(grace.groups.values_list("name", flat=True)) == {roles.MANAGERS}
    expect(page.get_by_role("link", name="Audit events")).to_be_visible()

    # managers read the sign-in audit: both sign-ins and the role change are there
    page.get_by_role("link", name="Audit events").click()
    expect(page.locator("#result_list")).to_contain_text("signed in with single sign-on")
    expect(page.locator("#result_list")).to_contain_text("roles now Engineering managers")
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "sso-audit.png"), full_page=True)
