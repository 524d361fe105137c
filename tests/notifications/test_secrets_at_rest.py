"""Secrets are stored encrypted and never shown back: Slack/webhook URLs of contact methods and
probe request headers (the database, the history tables, the owner's own change page)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from accounts import roles
from notifications.models import Channel, ContactMethod
from tests.factories import UserFactory
from tests.htmlforms import form_data
from tests.probes.factories import ProbeFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/at-rest-canary-0123456789"
HEADER = "Bearer at-rest-canary-header-value"


def _raw(table: str, column: str, pk_column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk_column} = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0] or ""


def test_a_contact_method_url_is_encrypted_in_the_table_and_its_history():
    user = UserFactory(username="owner", is_staff=True, roles=[roles.RESPONDERS])
    method = ContactMethod.objects.create(user=user, channel=Channel.SLACK, url=SLACK_URL)
    assert ContactMethod.objects.get(pk=method.pk).url == SLACK_URL  # the sender reads it back
    assert "canary" not in _raw("notifications_contactmethod", "url", "id", method.pk)
    version = method.history.get()
    assert "canary" not in _raw(
        "notifications_historicalcontactmethod", "url", "history_id", version.history_id
    )


def test_probe_headers_are_encrypted_in_the_table_and_its_history(manager):
    from probes import services

    probe = ProbeFactory(name="payments")
    services.save_probe(probe=probe, actor=manager, headers={"Authorization": HEADER})
    probe.refresh_from_db()
    assert probe.headers == {"Authorization": HEADER}  # the engine reads it back
    assert "canary" not in _raw("probes_probe", "headers", "id", probe.pk)
    for version in probe.history.all():
        assert "canary" not in _raw("probes_historicalprobe", "headers", "history_id", version.history_id)


def test_the_owner_does_not_see_their_url_again_and_a_blank_field_keeps_it(client):
    user = UserFactory(username="owner", is_staff=True, roles=[roles.RESPONDERS])
    method = ContactMethod.objects.create(user=user, channel=Channel.SLACK, label="pager", url=SLACK_URL)
    client.force_login(user)
    url = reverse("admin:notifications_contactmethod_change", args=[method.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"at-rest-canary" not in page.content
    data = form_data(page.content.decode(), "contactmethod_form")
    data.update({"label": ["pager channel"], "_save": ["Save"]})
    assert data["url"] == [""]
    assert client.post(url, data).status_code == 302
    method.refresh_from_db()
    assert (method.label, method.url) == ("pager channel", SLACK_URL)
