"""One interface over the two chat products; the outbox steps and the inbound handlers use it.

Each method is one idempotent-or-recorded API call (or two, where a product needs a lookup)
and raises ``ApiFailed`` with the outbox ``Result`` when the product refuses or is down.
"""

from __future__ import annotations

from chat import conf, mattermost, slack
from chat.message import Message
from chat.models import Provider
from chat.slack import ApiFailed


class SlackWorkspace:
    provider = Provider.SLACK

    def __init__(self, *, timeout: float | None = None) -> None:
        self.timeout = timeout  # None: CHAT_HTTP_TIMEOUT; the declare form's submission passes 2 s

    def lookup_user(self, email: str) -> str | None:
        try:
            reply = slack.call("users.lookupByEmail", {"email": email})
        except ApiFailed as exc:
            if exc.error == "users_not_found":
                return None
            raise
        return reply.data["user"]["id"]

    def user_email(self, external_id: str) -> str | None:
        """The user's e-mail address, when the workspace says it is confirmed."""
        try:
            reply = slack.call("users.info", {"user": external_id}, timeout=self.timeout)
        except ApiFailed as exc:
            if exc.error == "user_not_found":
                return None
            raise
        user = reply.data.get("user") or {}
        email = (user.get("profile") or {}).get("email") or ""
        if user.get("deleted") or user.get("is_bot") or not email:
            return None
        if user.get("is_email_confirmed") is False:
            return None
        return email

    def create_channel(self, name: str) -> tuple[str, str]:
        try:
            reply = slack.call("conversations.create", {"name": name, "is_private": False})
        except ApiFailed as exc:
            if exc.error != "name_taken":
                raise
            found = self._find_channel(name)
            if found is None:
                raise
            return found, name
        channel = reply.data["channel"]
        return channel["id"], channel.get("name", name)

    def _find_channel(self, name: str) -> str | None:
        cursor = ""
        for _ in range(50):
            reply = slack.call(
                "conversations.list",
                {
                    "types": "public_channel",
                    "exclude_archived": "true",
                    "limit": 200,
                    "cursor": cursor or None,
                },
            )
            for channel in reply.data.get("channels", []):
                if channel.get("name") == name:
                    return channel["id"]
            cursor = (reply.data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return None
        return None

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        try:
            slack.call("conversations.invite", {"channel": channel_id, "users": ",".join(user_ids)})
        except ApiFailed as exc:
            if exc.error != "already_in_channel":
                raise

    def set_topic(self, channel_id: str, topic: str) -> None:
        slack.call("conversations.setTopic", {"channel": channel_id, "topic": topic[:250]})

    def post(self, channel_id: str, message: Message) -> tuple[str, str]:
        reply = slack.call("chat.postMessage", {"channel": channel_id, **slack.payload(message)})
        return reply.data["channel"], reply.data["ts"]

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        slack.call("chat.update", {"channel": channel_id, "ts": ts, **slack.payload(message)})

    def pin(self, channel_id: str, ts: str) -> None:
        try:
            slack.call("pins.add", {"channel": channel_id, "timestamp": ts})
        except ApiFailed as exc:
            if exc.error != "already_pinned":
                raise

    def archive(self, channel_id: str) -> None:
        try:
            slack.call("conversations.archive", {"channel": channel_id})
        except ApiFailed as exc:
            if exc.error != "already_archived":
                raise

    def set_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        slack.call("usergroups.users.update", {"usergroup": usergroup_id, "users": ",".join(user_ids)})

    def direct_channel(self, external_user_id: str) -> str:
        return external_user_id  # chat.postMessage to a user id posts in the app's DM with them

    def channel_url(self, channel_id: str, name: str) -> str:
        return slack.channel_url(channel_id)


class MattermostWorkspace:
    provider = Provider.MATTERMOST

    def lookup_user(self, email: str) -> str | None:
        user = mattermost.call("GET", f"users/email/{email}")
        return user["id"] if user else None

    def user_email(self, external_id: str) -> str | None:
        user = mattermost.call("GET", f"users/{external_id}")
        if not user or user.get("delete_at") or user.get("is_bot") or not user.get("email"):
            return None
        if user.get("email_verified") is False:
            return None
        return user["email"]

    def create_channel(self, name: str) -> tuple[str, str]:
        team = conf.mattermost_team_id()
        try:
            channel = mattermost.call(
                "POST", "channels", {"team_id": team, "name": name, "display_name": name, "type": "O"}
            )
        except ApiFailed as exc:
            if exc.error != "store.sql_channel.save_channel.exists.app_error":
                raise
            channel = mattermost.call("GET", f"teams/{team}/channels/name/{name}")
            if not channel:
                raise
        return channel["id"], channel.get("name", name)

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        for user_id in user_ids:  # adding a member twice is accepted (idempotent)
            mattermost.call("POST", f"channels/{channel_id}/members", {"user_id": user_id})

    def set_topic(self, channel_id: str, topic: str) -> None:
        mattermost.call("PUT", f"channels/{channel_id}/patch", {"header": topic[:1024]})

    def post(self, channel_id: str, message: Message) -> tuple[str, str]:
        post = mattermost.call(
            "POST",
            "posts",
            {"channel_id": channel_id, "message": message.text, "props": mattermost.props(message)},
        )
        return channel_id, post["id"]

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        mattermost.call(
            "PUT", f"posts/{ts}/patch", {"message": message.text, "props": mattermost.props(message)}
        )

    def pin(self, channel_id: str, ts: str) -> None:
        mattermost.call("POST", f"posts/{ts}/pin")

    def archive(self, channel_id: str) -> None:
        mattermost.call("DELETE", f"channels/{channel_id}")

    def set_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        raise ApiFailed(
            slack.channels.Result.permanent_failure("Mattermost has no user groups the portal can sync")
        )

    def direct_channel(self, external_user_id: str) -> str:
        me = mattermost.call("GET", "users/me")
        channel = mattermost.call("POST", "channels/direct", [me["id"], external_user_id])
        return channel["id"]

    def channel_url(self, channel_id: str, name: str) -> str:
        return mattermost.channel_url(name)


def current(provider: str | None = None):
    name = provider or conf.provider()
    if name == Provider.SLACK:
        return SlackWorkspace()
    if name == Provider.MATTERMOST:
        return MattermostWorkspace()
    return None
