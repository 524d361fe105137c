"""API tokens in the admin: shown once at creation, own tokens only, never the key or digest."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import create_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/accounts/apitoken/"
ADD = "/admin/accounts/apitoken/add/"


def _secrets(token, key):
    return [key, token.digest, token.token_key]


def _assert_secret_free(response, token, key, where):
    html = response.content.decode()
    for secret in _secrets(token, key):
        assert secret not in html, f"{where} shows {secret[:6]}..."


def _admin_pages(client):
    index = client.get("/admin/").content.decode()
    return sorted(set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', index)))


def test_manager_cannot_read_another_persons_token_anywhere_in_the_admin(client, manager, responder):
    token, key = create_token(user=responder, actor=responder, name="responder laptop")
    client.force_login(manager)
    pages = _admin_pages(client)
    assert LIST in pages
    assert "/admin/accounts/user/" in pages
    for url in pages:
        listing = client.get(url)
        _assert_secret_free(listing, token, key, url)
        for change in set(
            re.findall(r'href="(' + re.escape(url) + r'[^"/]+/change/)"', listing.content.decode())
        ):
            _assert_secret_free(client.get(change), token, key, change)


def test_the_old_plaintext_token_admin_is_gone(client, superuser):
    client.force_login(superuser)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert b"Auth Token" not in client.get("/admin/").content


@pytest.mark.parametrize("url", ["{}change/", "{}history/", "{}revoke/", "{}delete/"])
def test_another_persons_token_pages_are_out_of_reach_for_a_manager(client, manager, responder, url):
    token, key = create_token(user=responder, actor=responder, name="responder laptop")
    client.force_login(manager)
    page = f"{LIST}{token.pk}/"
    method = client.post if "revoke" in url else client.get
    response = method(url.format(page), follow=True)
    assert response.status_code in (200, 403, 404)
    _assert_secret_free(response, token, key, url)
    assert b"responder laptop" not in response.content
    token.refresh_from_db()
    assert token.revoked_at is None


def test_each_person_lists_only_their_own_tokens_and_superusers_all(client, manager, responder, superuser):
    create_token(user=manager, actor=manager, name="manager's grafana")
    create_token(user=responder, actor=responder, name="responder laptop")
    client.force_login(manager)
    listing = client.get(LIST).content.decode()
    assert "manager&#x27;s grafana" in listing
    assert "responder laptop" not in listing
    client.force_login(responder)
    listing = client.get(LIST).content.decode()
    assert "responder laptop" in listing
    assert "grafana" not in listing
    client.force_login(superuser)
    listing = client.get(LIST).content.decode()
    assert "responder laptop" in listing
    assert "grafana" in listing


def test_create_in_the_admin_shows_the_key_once_then_never(client, responder):
    client.force_login(responder)
    form = client.get(ADD)
    assert form.status_code == 200
    assert b'name="user"' not in form.content  # no choosing whom the token acts as
    response = client.post(ADD, {"name": "release notes bot", "expires": "90"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    key = re.search(r'value="(ops_[0-9a-f]{64})"', response.content.decode()).group(1)
    assert token.user == responder
    assert token.created_by == responder
    assert token.token_key == key[:15]
    assert b"shown only this once" in response.content
    assert b"Authorization: Token" in response.content
    assert "no-store" in response["Cache-Control"]
    assert timedelta(days=89, hours=23) < token.expiry - timezone.now() <= timedelta(days=90)

    # every page about it afterwards: list, view, history, recent actions on the index
    pages = [
        LIST,
        f"{LIST}{token.pk}/change/",
        f"{LIST}{token.pk}/history/",
        "/admin/",
        "/api/v1/api-tokens/",
    ]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        _assert_secret_free(page, token, key, url)
    assert LogEntry.objects.get().object_repr == f"release notes bot ({key[:12]}…)"


def test_a_superuser_creates_a_token_for_a_machine_account_with_a_date_expiry(client, superuser):
    bot = UserFactory(username="ci-bot", time_zone="UTC")
    superuser.time_zone = "Europe/Berlin"
    superuser.save()
    client.force_login(superuser)
    response = client.post(
        ADD, {"user": bot.pk, "name": "gate check", "expires": "date", "expires_on": "2099-03-01"}
    )
    assert response.status_code == 200, response.content
    token = ApiToken.objects.get()
    assert (token.user, token.created_by, token.name) == (bot, superuser, "gate check")
    # works through the whole day in the creator's zone
    assert token.expiry == datetime(2099, 3, 2, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "expires": "90"}, b"This field is required"),
        ({"name": "x", "expires": "date"}, b"Pick the day after which the token stops working"),
        ({"name": "x", "expires": "date", "expires_on": "2000-01-01"}, b"must be in the future"),
        ({"name": "x", "expires": "forever"}, b"Select a valid choice"),
    ],
)
def test_bad_input_in_the_admin_form_shows_errors_and_creates_nothing(client, manager, data, error):
    client.force_login(manager)
    response = client.post(ADD, data)
    assert response.status_code == 200
    assert error in response.content
    assert not ApiToken.objects.exists()


def test_a_manager_cannot_create_a_token_for_someone_else_through_the_form(client, manager, responder):
    client.force_login(manager)
    response = client.post(ADD, {"user": responder.pk, "name": "sneaky", "expires": "never"})
    assert response.status_code == 200
    assert ApiToken.objects.get().user == manager  # the user field is not even read


@pytest.mark.parametrize("actor", ["support_user", "outsider"])
def test_non_staff_have_no_token_admin(client, request, actor):
    client.force_login(request.getfixturevalue(actor))
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"name": "x", "expires": "never"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_revoke_from_the_token_page(client, responder):
    token, _key = create_token(user=responder, actor=responder, name="old laptop")
    client.force_login(responder)
    page = client.get(f"{LIST}{token.pk}/change/")
    assert b"Revoke this token" in page.content
    response = client.post(f"{LIST}{token.pk}/revoke/", follow=True)
    assert b"Revoked old laptop" in response.content
    token.refresh_from_db()
    assert token.revoked_by == responder
    assert b"Revoke this token" not in client.get(f"{LIST}{token.pk}/change/").content
    assert client.get(f"{LIST}{token.pk}/revoke/").status_code == 405
    history = client.get(f"{LIST}{token.pk}/history/").content
    assert b"Revoked." in history


def test_revoke_action_on_the_list(client, manager):
    tokens = [create_token(user=manager, actor=manager, name=f"t{n}")[0] for n in range(2)]
    client.force_login(manager)
    response = client.post(
        LIST, {"action": "revoke_selected", "_selected_action": [t.pk for t in tokens]}, follow=True
    )
    assert b"Revoked 2 API token(s)" in response.content
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 2


def test_tokens_cannot_be_edited_or_deleted_even_by_a_superuser(client, superuser):
    token, _ = create_token(user=superuser, actor=superuser, name="x")
    client.force_login(superuser)
    assert client.post(f"{LIST}{token.pk}/change/", {"name": "renamed"}).status_code == 403
    assert client.post(f"{LIST}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    token.refresh_from_db()
    assert token.name == "x"


def test_status_filter_and_pasted_key_search(client, superuser, responder):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        create_token(
            user=responder, actor=responder, name="short", expires_at=timezone.now() + timedelta(days=1)
        )
        _, key = create_token(user=responder, actor=responder, name="leaked")
        traveller.shift(timedelta(days=2))
        client.force_login(superuser)
        active = client.get(LIST, {"status": "active"}).content.decode()
        expired = client.get(LIST, {"status": "expired"}).content.decode()
        # the token names as the list shows them (">name<": "short" alone also matches page chrome)
        assert ">leaked<" in active
        assert ">short<" not in active
        assert ">short<" in expired
        assert ">leaked<" not in expired
        found = client.get(LIST, {"q": key}).content.decode()
        assert ">leaked<" in found
        assert ">short<" not in found


def test_a_manager_revokes_a_leavers_tokens_from_the_user_list_without_seeing_them(
    client, manager, responder
):
    token, _key = create_token(user=responder, actor=responder, name="responder laptop")
    client.force_login(manager)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "revoke_api_tokens", "_selected_action": [responder.pk]},
        follow=True,
    )
    assert b"Revoked 1 API token(s) of responder." in response.content
    token.refresh_from_db()
    assert token.revoked_by == manager


def test_date_expiry_is_the_end_of_the_day_in_the_creators_zone(client, responder):
    responder.time_zone = "America/New_York"
    responder.save()
    client.force_login(responder)
    client.post(ADD, {"name": "x", "expires": "date", "expires_on": date(2099, 7, 4).isoformat()})
    assert ApiToken.objects.get().expiry == datetime(2099, 7, 5, tzinfo=ZoneInfo("America/New_York"))
