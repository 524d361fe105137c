"""A provider-neutral chat message: Slack renders it as Block Kit, Mattermost as an attachment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    action: str  # "page_ack", "page_resolve", "page_escalate"
    label: str
    value: str  # what the click acts on (a page id)
    style: str = ""  # "primary" / "danger"


@dataclass(frozen=True)
class Message:
    text: str  # the plain fallback (notifications, screen readers)
    title: str = ""
    body: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (label, url)
    footer: str = ""
    # Who the buttons are for (a chat user id): Mattermost binds each button to this person,
    # since it does not authenticate the clicks it forwards.
    recipient: str = ""


def mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
