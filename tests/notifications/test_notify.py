"""notify(): rows written in the caller's transaction, idempotent, preferences per kind."""

import pytest
from django.db import transaction

from notifications import services
from notifications.models import Channel, Notification
from opsportal.errors import InvalidInput
from tests.factories import ServiceFactory, UserFactory
from tests.notifications.factories import ContactMethodFactory, SlackMethodFactory, WebhookMethodFactory

pytestmark = pytest.mark.django_db

CTX = {
    "title": "Checkout is down",
    "url": "/admin/incidents/incident/1/",
    "severity": "SEV-1",
    "fields": [["Service", "checkout"], ["Status", "investigating"]],
    "actions": [["Acknowledge", "/oncall/ack/abc/"]],
    "body": "Error rate 42% <b>not html</b> & more",
}


def _notify(recipients, key="evt-1", kind="page", **kw):
    return services.notify(
        recipients=recipients, kind=kind, template="generic", context=CTX, idempotency_key=key, **kw
    )


def test_default_is_account_email_rendered_at_write_time(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://ops.example.com"
    user = UserFactory(email="ravi@example.com")
    with django_capture_on_commit_callbacks() as callbacks:
        rows = _notify([user])
    assert len(callbacks) == 1
    [row] = rows
    assert (row.channel, row.address, row.status, row.recipient) == (
        "email",
        "ravi@example.com",
        "pending",
        user,
    )
    assert row.subject == "[SEV-1] Checkout is down"
    # plain text: no HTML escaping, absolute links from SITE_URL
    assert "Error rate 42% <b>not html</b> & more" in row.body
    assert "Open: https://ops.example.com/admin/incidents/incident/1/" in row.body
    assert row.payload["actions"] == [["Acknowledge", "https://ops.example.com/oncall/ack/abc/"]]
    assert row.payload["severity"] == "SEV-1"


def test_same_key_twice_one_row_and_one_enqueue(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks() as first:
        a = _notify([user])
    with django_capture_on_commit_callbacks() as second:
        b = _notify([user])
    assert [r.pk for r in a] == [r.pk for r in b]
    assert Notification.objects.count() == 1
    assert len(first) == 1
    assert second == []  # nothing new, nothing enqueued


def test_plain_addresses_and_users_mixed():
    user = UserFactory()
    rows = _notify([user, "oncall@example.com", user])
    assert sorted(r.address for r in rows) == sorted([user.email, "oncall@example.com"])


def test_rolled_back_transaction_leaves_no_row_and_sends_nothing(django_capture_on_commit_callbacks):
    user = UserFactory()

    def event():
        with transaction.atomic():
            _notify([user])
            raise RuntimeError("the event failed")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        event()
    assert Notification.objects.count() == 0
    assert callbacks == []


def test_preferences_pick_channels_per_kind():
    user = UserFactory()
    ContactMethodFactory(user=user, channel=Channel.EMAIL, for_reminder=False)
    SlackMethodFactory(user=user, for_digest=False)
    WebhookMethodFactory(user=user, for_page=True, for_reminder=False, for_digest=False, for_update=False)

    assert sorted(r.channel for r in _notify([user], key="p", kind="page")) == ["email", "slack", "webhook"]
    assert sorted(r.channel for r in _notify([user], key="r", kind="reminder")) == ["slack"]
    assert sorted(r.channel for r in _notify([user], key="d", kind="digest")) == ["email"]


def test_page_never_dropped_by_preferences():
    user = UserFactory(email="x@example.com")
    ContactMethodFactory(user=user, channel=Channel.EMAIL, for_page=False, for_digest=False)
    assert [r.address for r in _notify([user], kind="page")] == ["x@example.com"]
    assert _notify([user], key="other", kind="digest") == []


def test_inactive_users_get_nothing():
    assert _notify([UserFactory(is_active=False)]) == []


def test_related_object_recorded():
    service = ServiceFactory()
    [row] = _notify(["a@example.com"], related=service)
    assert row.related == service


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "shout"}, "Unknown notification kind"),
        ({"context": {"url": "/x/"}}, '"title"'),
        ({"context": {"title": "t"}}, '"url"'),
        ({"template": "does/not/exist"}, "No notification template"),
        ({"recipients": ["not-an-address"]}, "not an e-mail address"),
        ({"recipients": [42]}, "must be a user or an e-mail address"),
        ({"idempotency_key": ""}, "idempotency key"),
        ({"context": {"title": "t", "url": "/", "fields": ["oops"]}}, "pairs"),
    ],
)
def test_bad_input_is_invalid_input(kwargs, message):
    args = {
        "recipients": ["a@example.com"],
        "kind": "page",
        "template": "generic",
        "context": CTX,
        "idempotency_key": "k",
        **kwargs,
    }
    with pytest.raises(InvalidInput, match=message):
        services.notify(**args)
    assert Notification.objects.count() == 0
