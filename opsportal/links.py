"""Absolute links for notifications, feeds and one-click actions (built from SITE_URL)."""

from urllib.parse import urljoin

from django.conf import settings
from django.urls import reverse


def absolute_url(path_or_url: str) -> str:
    """``/admin/...`` -> ``https://ops.example.com/admin/...``; absolute URLs pass through."""
    return urljoin(settings.SITE_URL + "/", path_or_url)


def absolute_reverse(viewname: str, *args, **kwargs) -> str:
    return absolute_url(reverse(viewname, args=args or None, kwargs=kwargs or None))
