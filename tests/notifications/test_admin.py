"""Admin: read-only log with filters and resend; contact methods scoped to self and team."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications import crypto, services, tasks
from notifications.models import Channel, ContactMethod, Notification
from tests.factories import TeamFactory, UserFactory
from tests.notifications.conftest import CONTEXT, only_channel
from tests.notifications.factories import WEBHOOK_SECRET, ContactMethodFactory, WebhookMethodFactory

pytestmark = pytest.mark.django_db

LOG = reverse("admin:notifications_notification_changelist")
METHODS = reverse("admin:notifications_contactmethod_changelist")


def _notify(recipients, key):
    return services.notify(
        recipients=recipients, kind="page", template="generic", context=CONTEXT, idempotency_key=key
    )


def test_400_is_failed_with_its_error_in_the_admin_and_resend_queues_it(
    httpserver, webhook_user, manager, client, django_capture_on_commit_callbacks
):
    httpserver.expect_ordered_request("/hook").respond_with_data("no such channel", status=400)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=200)
    row = only_channel(_notify([webhook_user], "evt-400"), "webhook")
    tasks.deliver(row.pk)

    client.force_login(manager)
    page = client.get(LOG, {"status": "failed"}).content.decode()
    assert "HTTP 400: no such channel" in page
    assert "Failed" in page
    assert client.get(LOG, {"status": "sent"}).content.decode().count("HTTP 400") == 0
    detail = client.get(reverse("admin:notifications_notification_change", args=[row.pk])).content.decode()
    assert "no such channel" in detail
    assert 'name="_save"' not in detail  # read-only

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(LOG, {"action": "resend_failed", "_selected_action": [row.pk]}, follow=True)
    assert "Queued 1 notification(s)" in response.content.decode()
    assert len(callbacks) == 1  # delivery enqueued on commit
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
    assert tasks.deliver(row.pk) == "sent"  # what the enqueued task runs
    assert len(httpserver.log) == 2


def test_resend_refuses_rows_that_are_not_failed(manager, client):
    [row] = _notify(["a@example.com"], "evt-ok")
    client.force_login(manager)
    response = client.post(LOG, {"action": "resend_failed", "_selected_action": [row.pk]}, follow=True)
    assert "Skipped 1" in response.content.decode()
    assert Notification.objects.get(pk=row.pk).status == "pending"


def test_log_filters_by_channel_kind_and_recipient(manager, client):
    ravi = UserFactory(username="ravi")
    _notify([ravi], "one")
    _notify(["plain@example.com"], "two")
    client.force_login(manager)
    by_recipient = client.get(LOG, {"recipient": ravi.pk}).content.decode()
    assert ravi.email in by_recipient
    assert "plain@example.com" not in by_recipient
    plain = client.get(LOG, {"recipient": "none"}).content.decode()
    assert "plain@example.com" in plain
    assert ravi.email not in plain
    assert client.get(LOG, {"channel": "email", "kind": "page"}).status_code == 200
    assert client.get(LOG, {"recipient": "\u00b2"}).status_code == 200  # isdigit() but not int()


def test_log_changelist_constant_queries(manager, client, django_assert_num_queries):
    client.force_login(manager)
    _notify([UserFactory()], "a")
    client.get(LOG)  # warm caches (content types, permissions)

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LOG).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    _notify([UserFactory() for _ in range(20)], "b")
    # session, user, groups/perms, recipient-filter choices, page of rows (recipient joined):
    # the same number of queries for 1 and 21 rows.
    with django_assert_num_queries(one):
        assert client.get(LOG).status_code == 200


def test_responder_sees_only_their_own_messages_and_cannot_resend(responder, client):
    _notify([responder], "mine")
    _notify([UserFactory(email="other@example.com")], "theirs")
    client.force_login(responder)
    page = client.get(LOG).content.decode()
    assert responder.email in page
    assert "other@example.com" not in page
    assert "resend_failed" not in page


@pytest.mark.parametrize("actor", ["support_user", "outsider"])
def test_non_staff_have_no_admin(actor, request, client):
    client.force_login(request.getfixturevalue(actor))
    assert client.get(LOG).status_code == 403
    assert client.get(METHODS).status_code == 403


def test_release_lead_manages_own_contact_methods(release_lead, client):
    client.force_login(release_lead)
    response = client.post(
        reverse("admin:notifications_contactmethod_add"),
        {
            "user": release_lead.pk,
            "channel": "slack",
            "url": "https://hooks.slack.com/services/T/B/xyz123456",
            "enabled": "on",
            "for_page": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    method = ContactMethod.objects.get(user=release_lead)
    assert (method.channel, method.for_page, method.for_digest) == ("slack", True, False)


def test_webhook_secret_is_encrypted_and_never_shown(responder, client):
    client.force_login(responder)
    secret = "s3cret-value-abcdefghijkl"
    response = client.post(
        reverse("admin:notifications_contactmethod_add"),
        {
            "user": responder.pk,
            "channel": "webhook",
            "url": "https://hooks.example.com/in",
            "secret": secret,
            "enabled": "on",
            "for_page": "on",
        },
    )
    assert response.status_code == 302
    method = ContactMethod.objects.get(user=responder)
    assert secret not in method.secret_encrypted
    assert crypto.decrypt(method.secret_encrypted) == secret
    change = reverse("admin:notifications_contactmethod_change", args=[method.pk])
    page = client.get(change).content.decode()
    assert secret not in page
    assert "ijkl" in page
    assert secret not in client.get(METHODS).content.decode()
    history = client.get(
        reverse("admin:notifications_contactmethod_history", args=[method.pk])
    ).content.decode()
    assert secret not in history

    # saving without re-entering keeps the secret
    response = client.post(
        change,
        {
            "user": responder.pk,
            "channel": "webhook",
            "url": "https://hooks.example.com/v2",
            "secret": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    method.refresh_from_db()
    assert crypto.decrypt(method.secret_encrypted) == secret
    assert method.url == "https://hooks.example.com/v2"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"channel": "webhook", "url": "https://h.example.com/x"}, "needs a shared secret"),
        ({"channel": "webhook", "url": "https://h.example.com/x", "secret": "short"}, "at least 16"),
        ({"channel": "slack"}, "need a URL"),
    ],
)
def test_contact_method_bad_input_is_a_form_error(responder, client, data, error):
    client.force_login(responder)
    response = client.post(
        reverse("admin:notifications_contactmethod_add"), {"user": responder.pk, "enabled": "on", **data}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ContactMethod.objects.exists()


def test_manager_edits_their_teams_members_but_not_others(manager, responder, client):
    member = UserFactory(username="member", is_staff=True)
    stranger = UserFactory(username="stranger")
    team = TeamFactory(manager=manager)
    team.members.add(member)
    mine = ContactMethodFactory(user=member, channel=Channel.EMAIL, email="pager@example.com")
    theirs = ContactMethodFactory(user=stranger, channel=Channel.EMAIL, email="s@example.com")

    client.force_login(manager)
    listing = client.get(METHODS).content.decode()
    assert "pager@example.com" in listing
    assert "s@example.com" not in listing
    change = reverse("admin:notifications_contactmethod_change", args=[mine.pk])
    response = client.post(
        change, {"user": member.pk, "channel": "email", "email": "new@example.com", "enabled": "on"}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.email == "new@example.com"
    assert (
        client.get(reverse("admin:notifications_contactmethod_change", args=[theirs.pk])).status_code == 302
    )
    # cannot assign a method to someone outside their teams
    response = client.post(
        reverse("admin:notifications_contactmethod_add"),
        {"user": stranger.pk, "channel": "email", "enabled": "on"},
    )
    assert response.status_code == 200
    assert not ContactMethod.objects.filter(user=stranger).exclude(pk=theirs.pk).exists()


def test_responder_cannot_touch_someone_elses_method(responder, client):
    other = WebhookMethodFactory()
    client.force_login(responder)
    assert client.get(reverse("admin:notifications_contactmethod_change", args=[other.pk])).status_code == 302
    response = client.post(
        reverse("admin:notifications_contactmethod_delete", args=[other.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert ContactMethod.objects.filter(pk=other.pk).exists()
    assert WEBHOOK_SECRET not in client.get(METHODS).content.decode()


def test_service_refuses_editing_strangers_methods(responder):
    from opsportal.errors import NotAllowed

    other = ContactMethodFactory()
    with pytest.raises(NotAllowed):
        services.save_contact_method(actor=responder, method=other, label="mine now")
    with pytest.raises(NotAllowed):
        services.delete_contact_method(actor=responder, method=other)


def test_cancel_pending(manager, client):
    [row] = _notify(["a@example.com"], "to-cancel")
    client.force_login(manager)
    client.post(LOG, {"action": "cancel_pending", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.status == "cancelled"
    with pytest.raises(Exception, match="Only pending"):
        services.cancel(notification=row, actor=manager)
    assert timezone.now() - row.updated_at < timedelta(minutes=1)
