"""E-mail alerts through the real SMTP listener (aiosmtpd), sent with smtplib: a trigger
mail pages with its runbook link, the page is acknowledged by its link, a repeat mail does
not page again, a "RESOLVED:" mail resolves the group and the page; unknown addresses are
refused at RCPT."""

from __future__ import annotations

import re
import smtplib
import socket
import time
from email.message import EmailMessage

import pytest

from alerts import mail
from alerts.models import Alert, AlertGroup, RawPayload
from alerts.services import integrations
from oncall.models import Page
from tests.alerts.conftest import page_messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    settings.ALERTS_EMAIL_DOMAIN = "alerts.example.com"
    controller = mail.controller("127.0.0.1", free_port())
    controller.start()
    yield controller
    controller.stop()


def send(controller, to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = "nagios@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{time.monotonic_ns()}@example.com>"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client:
        client.send_message(msg)


def wait_for(check, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_email_trigger_ack_repeat_resolve(world, smtp, client):
    integration, key = integrations.create_integration(
        actor=None, service=world["service"], name="Mail", kind="email"
    )
    address = integrations.email_address(key)
    assert address == f"{key}@alerts.example.com"
    body = "Host db1 disk at 97%.\nSeverity: critical\nRunbook: https://runbooks.example.com/disk\n"
    send(smtp, address, "PROBLEM: Disk full on db1", body)
    group = AlertGroup.objects.get(integration=integration)
    assert group.title == "Disk full on db1"
    page = Page.objects.get(dedup_key=f"alerts:group:{group.pk}")
    [message] = page_messages(page)
    assert "Runbook: https://runbooks.example.com/disk" in message.body
    ack = re.search(r"https?://[^/\s]+(/oncall/ack/\S+/)", message.body).group(1)
    assert client.post(ack).status_code in (200, 302)
    wait_for(lambda: AlertGroup.objects.get(pk=group.pk).status == "acknowledged")

    send(smtp, address, "PROBLEM: Disk full on db1", body)  # the monitor mails again
    assert Alert.objects.get().occurrences == 2
    assert Page.objects.count() == 1

    send(smtp, address, "RESOLVED: Disk full on db1", "Disk at 60%.")
    group.refresh_from_db()
    page.refresh_from_db()
    assert group.status == "resolved"
    assert page.status == "resolved"
    assert RawPayload.objects.filter(integration=integration, outcome="parsed").count() == 3


@pytest.mark.django_db(transaction=True)
def test_unknown_or_revoked_address_refused(world, smtp):
    integration, key = integrations.create_integration(
        actor=None, service=world["service"], name="Mail", kind="email"
    )
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp, "0" * 40 + "@alerts.example.com", "PROBLEM: x", "y")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp, f"{key}@elsewhere.example.com", "PROBLEM: x", "y")
    integrations.revoke_integration(integration=integration, actor=None)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp, integrations.email_address(key), "PROBLEM: x", "y")
    assert Alert.objects.count() == 0
