import pytest
from django.core.management import call_command
from django.test import override_settings

from notifications.models import ContactMethod, Notification


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_contact_methods_and_welcome_are_idempotent():
    call_command("seed_demo")
    counts = (ContactMethod.objects.count(), Notification.objects.filter(event_key="demo-welcome").count())
    call_command("seed_demo")
    assert (
        ContactMethod.objects.count(),
        Notification.objects.filter(event_key="demo-welcome").count(),
    ) == counts
    assert counts[0] == 5
    # one per manager except omar, whose only e-mail method takes pages, not updates
    welcomed = set(
        Notification.objects.filter(event_key="demo-welcome").values_list("recipient__username", flat=True)
    )
    assert welcomed == {"maya", "lena", "noah", "grace"}
    webhook = ContactMethod.objects.get(channel="webhook")
    assert webhook.secret_encrypted
    assert not webhook.enabled
