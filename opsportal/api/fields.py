"""Serializer fields shared by every app's API."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its zone (``Z`` or ``+01:00``).

    DRF's DateTimeField reads a zone-less time in the server's zone (UTC) without a word; the
    portal's read endpoints refuse such times, so writes refuse them too instead of guessing.
    """

    default_error_messages = {"naive": "Give the {name} with a time zone (Z or +01:00)."}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive", name=(self.field_name or "time").removesuffix("_at").replace("_", " "))
        return super().enforce_timezone(value)
