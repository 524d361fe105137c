"""Factories for notifications tests."""

import factory

from notifications import crypto
from notifications.models import Channel, ContactMethod
from tests.factories import UserFactory

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"


class ContactMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactMethod

    user = factory.SubFactory(UserFactory)
    channel = Channel.EMAIL
    label = ""


class WebhookMethodFactory(ContactMethodFactory):
    channel = Channel.WEBHOOK
    url = "http://127.0.0.1:9/hook"
    secret_encrypted = factory.LazyFunction(lambda: crypto.encrypt(WEBHOOK_SECRET))
    secret_hint = WEBHOOK_SECRET[-4:]


class SlackMethodFactory(ContactMethodFactory):
    channel = Channel.SLACK
    url = "http://127.0.0.1:9/services/T000/B000/XXXX"
