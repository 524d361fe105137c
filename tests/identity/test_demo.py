import pytest
from django.core.management import call_command
from django.test import override_settings

from identity.models import AuditEvent, Departure, DirectoryGroup, ExternalIdentity


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_identity_is_idempotent_and_lived_in():
    call_command("seed_demo")
    counts = (AuditEvent.objects.count(), Departure.objects.count(), DirectoryGroup.objects.count(),
              ExternalIdentity.objects.count())  # fmt: skip
    call_command("seed_demo")
    assert (AuditEvent.objects.count(), Departure.objects.count(), DirectoryGroup.objects.count(),
            ExternalIdentity.objects.count()) == counts  # fmt: skip
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN_FAILED).exists()
    assert Departure.objects.get().user.username == "quinn"
    assert DirectoryGroup.objects.get(display_name="oncall").members.count() >= 10
