"""One date/time format in the admin too: list cells and read-only fields holding a
DateTimeField show "14:02 CET, 12 min ago" in the viewer's zone, like every portal page.

Django renders those through ``django.contrib.admin.utils.display_for_field``, imported by
name into ``admin_list`` (change lists) and ``helpers`` (read-only fields); there is no hook,
so ``install()`` (called once from ``OpsPortalConfig.ready``) wraps it in both modules.
Everything that is not a filled DateTimeField goes to Django's own function unchanged."""

from django.contrib.admin import helpers, utils
from django.contrib.admin.templatetags import admin_list
from django.db import models

from opsportal.templatetags.ops_ui import when_html

_django_display_for_field = utils.display_for_field


def display_for_field(value, field, empty_value_display, avoid_link=False):
    if (
        isinstance(field, models.DateTimeField)
        and not getattr(field, "flatchoices", None)
        and value not in field.empty_values
    ):
        return when_html(value)
    return _django_display_for_field(value, field, empty_value_display, avoid_link)


def install() -> None:
    admin_list.display_for_field = display_for_field
    helpers.display_for_field = display_for_field
