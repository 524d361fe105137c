"""A local fake of the Mattermost REST API v4 (a real loopback HTTP server), checking and
recording the calls the adapter makes. Shapes from https://api.mattermost.com/:

- Channels: CreateChannel ``POST /api/v4/channels`` (``team_id``, ``name``, ``display_name``,
  ``type``; a taken name is 400 ``store.sql_channel.save_channel.exists.app_error``),
  GetChannelByName ``GET /api/v4/teams/{team_id}/channels/name/{name}``, AddChannelMember
  ``POST /api/v4/channels/{id}/members`` (``user_id``), PatchChannel
  ``PUT /api/v4/channels/{id}/patch`` (``header``), DeleteChannel ``DELETE /api/v4/channels/{id}``
  (archives), CreateDirectChannel ``POST /api/v4/channels/direct`` (two user ids).
- Posts: CreatePost ``POST /api/v4/posts`` (``channel_id``, ``message``, ``props``), PatchPost
  ``PUT /api/v4/posts/{id}/patch``, PinPost ``POST /api/v4/posts/{id}/pin``, CreatePostEphemeral
  ``POST /api/v4/posts/ephemeral`` (``user_id``, ``post``).
- Users: GetUserByEmail ``GET /api/v4/users/email/{email}``, GetUser ``GET /api/v4/users/{id}``,
  GetUserByUsername ``GET /api/v4/users/username/{username}``, GetMe ``GET /api/v4/users/me``.
- Slash-command responses: https://developers.mattermost.com/integrate/slash-commands/custom/
  (``response_url`` accepts a JSON ``{"response_type", "text"}``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTES = [
    ("POST", r"channels", "create_channel", ["team_id", "name", "display_name", "type"]),
    ("POST", r"channels/direct", "direct", []),
    ("GET", r"teams/(?P<team>\w+)/channels/name/(?P<name>[\w-]+)", "channel_by_name", []),
    ("POST", r"channels/(?P<channel>\w+)/members", "add_member", ["user_id"]),
    ("PUT", r"channels/(?P<channel>\w+)/patch", "patch_channel", []),
    ("DELETE", r"channels/(?P<channel>\w+)", "delete_channel", []),
    ("POST", r"posts", "create_post", ["channel_id"]),
    ("POST", r"posts/ephemeral", "ephemeral", ["user_id", "post"]),
    ("PUT", r"posts/(?P<post>\w+)/patch", "patch_post", []),
    ("POST", r"posts/(?P<post>\w+)/pin", "pin", []),
    ("GET", r"users/me", "me", []),
    ("GET", r"users/email/(?P<email>[^/]+)", "user_by_email", []),
    ("GET", r"users/username/(?P<username>[^/]+)", "user_by_username", []),
    ("GET", r"users/(?P<user>\w+)", "user", []),
]


class FakeMattermost:
    def __init__(self, token: str = "mm-bot-token", team_id: str = "teamid1") -> None:  # noqa: S107 - a fake
        self.token, self.team_id = token, team_id
        self.users: dict = {"botid": {"id": "botid", "username": "opsportal", "email": "", "is_bot": True}}
        self.channels: dict = {}
        self.posts: dict = {}
        self.ephemerals: list = []
        self.responses: list = []
        self.calls: list = []
        self.failure: tuple | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add_user(self, user_id: str, email: str, *, username: str = "", verified: bool = True) -> None:
        self.users[user_id] = {
            "id": user_id, "username": username or email.split("@")[0], "email": email,
            "email_verified": verified, "delete_at": 0,
        }  # fmt: skip

    def _new(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def ok_calls(self, name: str) -> list:
        return [c for c in self.calls if c[0] == name and c[2] < 300]

    # --- handlers: (status, body) --------------------------------------------------------
    def create_channel(self, body, **_):
        if any(c["name"] == body["name"] for c in self.channels.values()):
            return 400, {"id": "store.sql_channel.save_channel.exists.app_error", "status_code": 400}
        cid = self._new("ch")
        self.channels[cid] = {**body, "id": cid, "members": [], "header": "", "deleted": False, "pinned": []}
        return 201, self.channels[cid]

    def direct(self, body, **_):
        cid = "dm_" + "__".join(sorted(body))
        self.channels.setdefault(
            cid, {"id": cid, "name": cid, "members": list(body), "header": "", "pinned": []}
        )
        return 201, self.channels[cid]

    def channel_by_name(self, body, team, name):
        found = next((c for c in self.channels.values() if c["name"] == name), None)
        return (200, found) if found else (404, {"id": "app.channel.get_by_name.missing.app_error"})

    def add_member(self, body, channel):
        if channel not in self.channels or body["user_id"] not in self.users:
            return 404, {"id": "app.channel.get.existing.app_error"}
        if body["user_id"] not in self.channels[channel]["members"]:
            self.channels[channel]["members"].append(body["user_id"])
        return 201, {"channel_id": channel, "user_id": body["user_id"]}

    def patch_channel(self, body, channel):
        self.channels[channel].update(body)
        return 200, self.channels[channel]

    def delete_channel(self, body, channel):
        self.channels[channel]["deleted"] = True
        return 200, {"status": "OK"}

    def create_post(self, body, **_):
        if body["channel_id"] not in self.channels:
            return 403, {"id": "api.context.permissions.app_error"}
        pid = self._new("post")
        self.posts[pid] = {**body, "id": pid, "create_at": int(time.time() * 1000), "is_pinned": False}
        return 201, self.posts[pid]

    def ephemeral(self, body, **_):
        self.ephemerals.append(body)
        return 201, body["post"]

    def patch_post(self, body, post):
        if post not in self.posts:
            return 404, {"id": "app.post.get.app_error"}
        self.posts[post].update(body)
        return 200, self.posts[post]

    def pin(self, body, post):
        self.posts[post]["is_pinned"] = True
        return 200, {"status": "OK"}

    def me(self, body, **_):
        return 200, self.users["botid"]

    def user_by_email(self, body, email):
        found = next((u for u in self.users.values() if u["email"] == email), None)
        return (200, found) if found else (404, {"id": "app.user.missing_account.const"})

    def user_by_username(self, body, username):
        found = next((u for u in self.users.values() if u["username"] == username), None)
        return (200, found) if found else (404, {"id": "app.user.missing_account.const"})

    def user(self, body, user):
        return (
            (200, self.users[user]) if user in self.users else (404, {"id": "app.user.missing_account.const"})
        )

    # --- server ----------------------------------------------------------------------------
    def start(self) -> FakeMattermost:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _any(self, method):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    if fake.failure and time.time() < fake.failure[1]:
                        return self._send(fake.failure[0], {"id": "down"})
                    if self.path.startswith("/response/"):
                        fake.responses.append(json.loads(raw))
                        return self._send(200, {})
                    if self.headers.get("Authorization") != f"Bearer {fake.token}":
                        return self._send(401, {"id": "api.context.session_expired.app_error"})
                    path = self.path.removeprefix("/api/v4/")
                    body = json.loads(raw) if raw else {}
                    for verb, pattern, name, required in ROUTES:
                        match = re.fullmatch(pattern, path)
                        if verb == method and match:
                            missing = [r for r in required if not body.get(r)]
                            if missing:
                                fake.calls.append((name, body, 400))
                                return self._send(400, {"id": "model.invalid", "missing": missing})
                            status, answer = getattr(fake, name)(body, **match.groupdict())
                            fake.calls.append((name, body, status))
                            return self._send(status, answer)
                    return self._send(404, {"id": "api.no_route"})

            def do_GET(self):
                self._any("GET")

            def do_POST(self):
                self._any("POST")

            def do_PUT(self):
                self._any("PUT")

            def do_DELETE(self):
                self._any("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
