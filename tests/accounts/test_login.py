"""Plain login for non-admin users, landing pages, password reset by e-mail."""

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_support_user_logs_in_on_plain_page_and_lands_on_their_pages(client, support_user):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content
    response = client.post("/accounts/login/", {"username": "support", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/support/"
    assert b"Your escalations" in response.content
    assert b'href="/services/">Service directory' in response.content


@pytest.mark.django_db
def test_staff_land_in_the_admin(client, manager):
    response = client.post("/accounts/login/", {"username": "manager", "password": PASSWORD})
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/admin/"


@pytest.mark.django_db
def test_wrong_password_shows_error_not_500(client, support_user):
    response = client.post("/accounts/login/", {"username": "support", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_password_reset_by_email_round_trip(client, support_user):
    response = client.post("/accounts/password/reset/", {"email": support_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a-much-longer-pass-42", "new_password2": "a-much-longer-pass-42"}
    )
    assert done.status_code == 302
    support_user.refresh_from_db()
    assert support_user.check_password("a-much-longer-pass-42")


@pytest.mark.django_db
def test_password_reset_does_not_reveal_unknown_addresses(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_directory_needs_login(client):
    assert client.get("/services/")["Location"].startswith("/accounts/login/")
