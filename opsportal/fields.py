"""Model fields shared by every app."""

from django.db import models


class URLField(models.URLField):
    """A URLField whose forms read a bare "grafana.example.com" as https (Django 6's default;
    opting in per field silences the 5.x transition warning without a deprecated setting)."""

    def formfield(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        return super().formfield(**kwargs)
