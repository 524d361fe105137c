"""Webhook and Slack destinations go through the outbound guard (defect 21).

Only loopback receivers are used: "not allowed" here means loopback with an allow-list that
does not include it (the production default). Public decisions are tested on address
objects without I/O in test_outbound.py.
"""

import pytest
from django.urls import reverse

from notifications import services, tasks
from notifications.models import ContactMethod, Notification
from opsportal.errors import InvalidInput
from tests.notifications.conftest import CONTEXT, only_channel
from tests.notifications.factories import WEBHOOK_SECRET, SlackMethodFactory, WebhookMethodFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_refused(settings):
    """Production policy: public addresses only, DEBUG off."""
    settings.DEBUG = False
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def v4(make_receiver):
    return make_receiver()


@pytest.fixture
def v6(make_receiver):
    return make_receiver(host="::1")


def _notify(user, key="evt"):
    return services.notify(
        recipients=[user], kind="page", template="generic", context=CONTEXT, idempotency_key=key
    )


def _loopback_urls(v4, v6):
    return [v4.url("/hook"), v4.url("/hook", name="localhost"), v6.url("/hook")]


@pytest.mark.parametrize("channel", ["webhook", "slack"])
def test_adding_a_loopback_destination_is_refused(loopback_refused, responder, v4, v6, channel):
    for url in _loopback_urls(v4, v6):
        with pytest.raises(InvalidInput) as refused:
            services.save_contact_method(
                actor=responder,
                user=responder,
                channel=channel,
                url=url,
                secret=WEBHOOK_SECRET if channel == "webhook" else None,
            )
        assert refused.value.field == "url", url
        assert "this address is not allowed" in refused.value.message.lower(), refused.value.message
        assert "loopback" in refused.value.message, refused.value.message
    assert not ContactMethod.objects.exists()
    assert v4.count == v6.count == 0  # validating never contacts the destination


def test_changing_a_method_to_a_loopback_destination_is_refused(loopback_refused, responder, v4):
    method = services.save_contact_method(
        actor=responder,
        user=responder,
        channel="webhook",
        url="https://93.184.215.14/hook",  # a literal public address: checked without DNS or I/O
        secret=WEBHOOK_SECRET,
    )
    with pytest.raises(InvalidInput, match="not allowed"):
        services.save_contact_method(actor=responder, method=method, url=v4.url("/hook", name="localhost"))
    method.refresh_from_db()
    assert method.url == "https://93.184.215.14/hook"


@pytest.mark.parametrize(
    "url",
    ["ftp://files.example.com/hook", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"],
)
def test_other_schemes_and_metadata_addresses_are_refused_whatever_the_allow_list(settings, responder, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    with pytest.raises(InvalidInput) as refused:
        services.save_contact_method(
            actor=responder, user=responder, channel="webhook", url=url, secret=WEBHOOK_SECRET
        )
    assert refused.value.field == "url"
    assert not ContactMethod.objects.exists()


def test_admin_form_shows_the_refusal_on_the_url_field(loopback_refused, responder, client, v4):
    client.force_login(responder)
    response = client.post(
        reverse("admin:notifications_contactmethod_add"),
        {
            "user": responder.pk,
            "channel": "slack",
            "url": v4.url("/services/T/B/x", name="localhost"),
            "enabled": "on",
            "for_page": "on",
        },
    )
    assert response.status_code == 200
    assert "This address is not allowed" in response.content.decode()
    assert not ContactMethod.objects.exists()


@pytest.mark.parametrize("which", ["ip", "name", "ipv6"])
@pytest.mark.parametrize(
    ("channel", "factory"), [("webhook", WebhookMethodFactory), ("slack", SlackMethodFactory)]
)
def test_send_to_a_destination_that_resolves_to_loopback_is_refused_unseen(
    loopback_refused, v4, v6, which, channel, factory
):
    # The method was saved while the name pointed elsewhere (the factory skips the service):
    # the check at connect time is what stops it.
    url = {"ip": v4.url(), "name": v4.url(name="localhost"), "ipv6": v6.url()}[which]
    user = factory(url=url).user
    row = only_channel(_notify(user), channel)

    assert tasks.deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, None)
    assert row.last_error.startswith("refused by the outbound guard:"), row.last_error
    assert "loopback" in row.last_error
    assert v4.count == v6.count == 0
    assert v4.connections == v6.connections == 0  # not even a TCP handshake
    assert row.pk not in services.due_for_redispatch(grace_seconds=0)  # never retried by itself


def test_redirect_is_not_followed(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    elsewhere = make_receiver()
    moved = make_receiver(
        response=(
            b"HTTP/1.1 302 Found\r\nLocation: " + elsewhere.url("/stolen").encode() + b"\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    )
    user = WebhookMethodFactory(url=moved.url("/hook")).user
    row = only_channel(_notify(user), "webhook")

    assert tasks.deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.last_status_code) == ("failed", 302)
    assert "redirect" in row.last_error.lower()
    assert (moved.count, elsewhere.count, elsewhere.connections) == (1, 0, 0)


def test_only_a_short_clean_excerpt_of_an_answer_reaches_the_log(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    body = b"\x1b[31mdenied\x1b[0m\r\nline two\x00\x07 " + b"A" * 5000
    receiver = make_receiver(
        response=b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )
    user = WebhookMethodFactory(url=receiver.url()).user
    row = only_channel(_notify(user), "webhook")

    assert tasks.deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert row.last_error.startswith("HTTP 400: [31mdenied[0m line two")
    assert len(row.last_error) <= 300
    assert not any(ord(c) < 32 or ord(c) == 127 for c in row.last_error), row.last_error


def test_refused_row_resent_by_an_operator_is_refused_again(loopback_refused, manager, v4):
    user = WebhookMethodFactory(url=v4.url()).user
    row = only_channel(_notify(user), "webhook")
    assert tasks.deliver(row.pk) == "failed"
    services.resend(notification=row, actor=manager)
    assert tasks.deliver(row.pk) == "failed"
    assert Notification.objects.get(pk=row.pk).attempts == 1
    assert v4.count == 0


def test_a_method_saved_before_the_allow_list_tightened_can_still_be_edited(settings, responder, v4):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    method = services.save_contact_method(
        actor=responder, user=responder, channel="webhook", url=v4.url(), secret=WEBHOOK_SECRET
    )
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    # Switching it off or relabelling it does not re-check the unchanged URL...
    method = services.save_contact_method(actor=responder, method=method, enabled=False, label="old bridge")
    assert (method.enabled, method.label) == (False, "old bridge")
    # ...but pointing it anywhere new does.
    with pytest.raises(InvalidInput, match="not allowed"):
        services.save_contact_method(actor=responder, method=method, url=v4.url("/other"))
