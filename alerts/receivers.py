"""oncall -> alerts: a page we opened was acknowledged or resolved (oncall.signals).

Receivers run after the page's transaction committed; they treat "already done" as done,
because our own acknowledge/resolve of the page is what sends most of these signals."""

from __future__ import annotations

from alerts import services
from oncall.models import Page
from oncall.signals import page_acknowledged, page_resolved


def _on_acknowledged(sender, page, user, at, **kwargs) -> None:
    services.page_acknowledged(page=page, user=user, at=at)


def _on_resolved(sender, page, user, at, reason: str = "", **kwargs) -> None:
    services.page_resolved(page=page, user=user, at=at, reason=reason)


def connect() -> None:
    page_acknowledged.connect(_on_acknowledged, sender=Page, dispatch_uid="alerts.page_acknowledged")
    page_resolved.connect(_on_resolved, sender=Page, dispatch_uid="alerts.page_resolved")
