"""Chat settings, read in one place (defaults documented in docs/chat.md).

Secrets come from the environment or ``NAME_FILE`` (parsed in ``opsportal/settings.py``).
"""

from __future__ import annotations

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def provider() -> str:
    """ "slack", "mattermost" or "" (chat off)."""
    return (_get("CHAT_PROVIDER", "") or "").strip().lower()


def enabled(name: str | None = None) -> bool:
    current = provider()
    return bool(current) and (name is None or current == name)


def command_name() -> str:
    name = _get("CHAT_COMMAND", "/incident") or "/incident"
    return name if name.startswith("/") else f"/{name}"


def channel_pattern() -> str:
    return _get("CHAT_CHANNEL_PATTERN", "inc-{number}-{slug}") or "inc-{number}-{slug}"


def followers() -> list[str]:
    """E-mail addresses invited to every incident channel."""
    value = _get("CHAT_CHANNEL_FOLLOWERS", []) or []
    return [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]


def archive_after_hours() -> float:
    return float(_get("CHAT_ARCHIVE_AFTER_HOURS", 24))


def timeline_emoji() -> str:
    return (_get("CHAT_TIMELINE_EMOJI", "pushpin") or "").strip(":")


def request_tolerance_seconds() -> int:
    return int(_get("CHAT_REQUEST_TOLERANCE_SECONDS", 300))


def identity_ttl_seconds() -> int:
    return int(_get("CHAT_IDENTITY_TTL_SECONDS", 86400))


def oncall_usergroups() -> dict[int, str]:
    """schedule id -> user group id, from ``CHAT_ONCALL_USERGROUPS`` ("12=S0614TZR7,13=S0615G0KT")."""
    value = _get("CHAT_ONCALL_USERGROUPS", {}) or {}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    out: dict[int, str] = {}
    for part in str(value).split(","):
        if "=" in part:
            key, group = part.split("=", 1)
            out[int(key.strip())] = group.strip()
    return out


def http_timeout() -> float:
    return float(_get("CHAT_HTTP_TIMEOUT", 10))


# --- Slack -------------------------------------------------------------------------------


def slack_api_url() -> str:
    return (_get("SLACK_API_URL", "https://slack.com/api/") or "").rstrip("/") + "/"


def slack_bot_token() -> str:
    return _get("SLACK_BOT_TOKEN", "") or ""


def slack_signing_secret() -> str:
    return _get("SLACK_SIGNING_SECRET", "") or ""


def slack_team_url() -> str:
    """e.g. https://acme.slack.com (channel links); blank: app_redirect links."""
    return (_get("SLACK_WORKSPACE_URL", "") or "").rstrip("/")


# --- Mattermost --------------------------------------------------------------------------


def mattermost_url() -> str:
    return (_get("MATTERMOST_URL", "") or "").rstrip("/")


def mattermost_bot_token() -> str:
    return _get("MATTERMOST_BOT_TOKEN", "") or ""


def mattermost_team_id() -> str:
    return _get("MATTERMOST_TEAM_ID", "") or ""


def mattermost_team_name() -> str:
    return _get("MATTERMOST_TEAM_NAME", "") or ""


def mattermost_command_token() -> str:
    return _get("MATTERMOST_COMMAND_TOKEN", "") or ""
