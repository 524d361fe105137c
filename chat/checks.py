"""Configuration problems surface as system checks (chat.E001...), not at the first request."""

from django.core import checks

from chat import conf


@checks.register()
def chat_settings(app_configs=None, **kwargs):
    errors = []
    provider = conf.provider()
    if provider not in ("", "slack", "mattermost"):
        errors.append(
            checks.Error(
                f"CHAT_PROVIDER={provider!r}: use slack, mattermost or leave it unset.", id="chat.E001"
            )
        )
    if provider == "slack":
        for name, value in (
            ("SLACK_BOT_TOKEN", conf.slack_bot_token()),
            ("SLACK_SIGNING_SECRET", conf.slack_signing_secret()),
        ):
            if not value:
                errors.append(
                    checks.Error(f"CHAT_PROVIDER=slack needs {name} (or {name}_FILE).", id="chat.E002")
                )
    if provider == "mattermost":
        for name, value in (
            ("MATTERMOST_URL", conf.mattermost_url()),
            ("MATTERMOST_BOT_TOKEN", conf.mattermost_bot_token()),
            ("MATTERMOST_TEAM_ID", conf.mattermost_team_id()),
            ("MATTERMOST_COMMAND_TOKEN", conf.mattermost_command_token()),
        ):
            if not value:
                errors.append(checks.Error(f"CHAT_PROVIDER=mattermost needs {name}.", id="chat.E003"))
    try:
        conf.oncall_usergroups()
    except ValueError:
        errors.append(
            checks.Error("CHAT_ONCALL_USERGROUPS: use schedule-id=usergroup-id pairs.", id="chat.E004")
        )
    try:
        conf.channel_pattern().format(number=1, slug="x", severity="sev-1")
    except (KeyError, IndexError, ValueError):
        errors.append(
            checks.Error("CHAT_CHANNEL_PATTERN may use {number}, {slug} and {severity} only.", id="chat.E005")
        )
    return errors
