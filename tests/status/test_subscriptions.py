"""Double opt-in, one-click unsubscribe, no oracle, rate limit, CSRF, fan-out once."""

import os
import re

import pytest
from django.test import Client, override_settings

from incidents import services as incidents
from notifications.models import Notification
from status import services
from status.models import Subscriber, UpdateDispatch
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db


def link(body: str, kind: str) -> str:
    match = re.search(rf"https?://\S+(/status/{kind}/\S+/)", body)
    assert match, body
    return match.group(1)


def subscribe(client, email):
    return client.post("/status/subscribe/", {"email": email})


def test_double_opt_in(client):
    response = subscribe(client, "Alice@Example.com")
    assert response.status_code == 200
    sub = Subscriber.objects.get()
    assert sub.email == "alice@example.com"
    assert sub.state == "pending"
    mail = Notification.objects.get(address="alice@example.com")
    assert mail.kind == "update"
    confirm = link(mail.body, "subscribe/confirm")
    assert client.get(confirm).status_code == 200
    sub.refresh_from_db()
    assert sub.state == "confirmed"
    assert sub.confirmed_at
    assert client.get(confirm[:-5] + "xxxx/").status_code == 400


def test_same_answer_whatever_the_state(client):
    subscribe(client, "known@example.com")
    sub = Subscriber.objects.get()
    sub.state, sub.confirmed_at = "confirmed", sub.created_at
    sub.save()
    subscribe(client, "pending@example.com")

    pages = [
        subscribe(client, e).content
        for e in ["known@example.com", "pending@example.com", "brandnew@example.com"]
    ]
    assert pages[0] == pages[1] == pages[2]
    # Re-asking never mails a confirmed address, and a pending one at most once per interval.
    assert Notification.objects.filter(address="known@example.com").count() == 1
    assert Notification.objects.filter(address="pending@example.com").count() == 1


def test_invalid_address_is_a_form_error(client):
    response = subscribe(client, "not-an-address")
    assert response.status_code == 400
    assert "valid e-mail" in response.content.decode()


def test_csrf_enforced():
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=f"10.255.{os.getpid() % 250}.1")
    assert client.post("/status/subscribe/", {"email": "a@example.com"}).status_code == 403
    page = client.get("/status/subscribe/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert (
        client.post(
            "/status/subscribe/", {"email": "a@example.com", "csrfmiddlewaretoken": token}
        ).status_code
        == 200
    )


@override_settings(STATUS_SUBSCRIBE_RATE_LIMIT="3/m")
def test_rate_limited_per_client(client):
    codes = [subscribe(client, f"user{n}@example.com").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Subscriber.objects.count() == 3


def _confirmed(email):
    services.request_subscription(email=email)
    sub = Subscriber.objects.get(email=email)
    services.confirm_subscription(token=services.make_token(sub, "confirm"))
    return sub


def test_external_update_mails_confirmed_subscribers_once_with_unsubscribe(
    client, manager, django_capture_on_commit_callbacks
):
    api = component(name="API")
    confirmed = _confirmed("c@example.com")
    services.request_subscription(email="p@example.com")  # pending: gets nothing
    incident = declare(actor=manager, level=2, service=api.service, title="API errors")
    with django_capture_on_commit_callbacks(execute=True):
        incidents.post_update(incident=incident, actor=manager, audience="internal", text="internal only")
        update = incidents.post_update(
            incident=incident, actor=manager, audience="external", text="Fix rolling out."
        )
    # On commit the fan-out is enqueued; run it (and the sweep) directly, twice.
    services.dispatch_update(update_id=update.pk)
    services.dispatch_update(update_id=update.pk)
    services.dispatch_pending()
    mails = Notification.objects.filter(template="status/update")
    assert [m.address for m in mails] == ["c@example.com"]
    assert "Fix rolling out." in mails[0].body
    assert "internal only" not in mails[0].body
    assert UpdateDispatch.objects.get(update=update).recipients == 1

    unsub = link(mails[0].body, "unsubscribe")
    assert client.get(unsub).status_code == 200
    confirmed.refresh_from_db()
    assert confirmed.state == "unsubscribed"
    assert (
        Client(enforce_csrf_checks=True).post(unsub).status_code == 200
    )  # RFC 8058 one-click POST, idempotent


def test_drill_and_not_public_updates_are_not_mailed(manager):
    api = component(name="API")
    _confirmed("c@example.com")
    drill = declare(actor=manager, level=2, service=api.service, drill=True)
    hidden = declare(actor=manager, level=2, service=api.service)
    services.set_incident_public(incident=hidden, actor=manager, public=False)
    for incident in (drill, hidden):
        update = incidents.post_update(incident=incident, actor=manager, audience="external", text="x")
        assert services.dispatch_update(update_id=update.pk).sent is False
    assert not Notification.objects.filter(template="status/update").exists()


def test_resubscribe_after_unsubscribe_needs_new_confirmation(manager):
    sub = _confirmed("c@example.com")
    old_confirm = services.make_token(sub, "confirm")
    services.unsubscribe(token=services.make_token(sub, "unsubscribe"))
    services.request_subscription(email="c@example.com")
    sub.refresh_from_db()
    assert sub.state == "pending"
    assert services.confirm_subscription(token=old_confirm) is None  # old links are dead
