"""A local fake of the Slack Web API: a real HTTP server (loopback, free port) that checks
each call the way Slack documents it and records it.

Where the shapes come from (the method reference pages, docs.slack.dev / api.slack.com):

- https://docs.slack.dev/apis/web-api/ ("Using the Web API": POST to
  ``https://slack.com/api/<method>``, ``Authorization: Bearer`` token, JSON bodies for write
  methods, form bodies for read methods, ``{"ok": false, "error": ...}``) and
  https://docs.slack.dev/apis/web-api/rate-limits (HTTP 429 with ``Retry-After``).
- https://docs.slack.dev/reference/methods/conversations.create (required ``name``; error
  ``name_taken``), .../conversations.invite (``channel``, ``users`` comma-separated;
  ``already_in_channel``), .../conversations.setTopic (``channel``, ``topic``),
  .../conversations.archive (``channel``), .../conversations.list, .../conversations.history
  (``channel``; ``latest``, ``inclusive``, ``limit``).
- https://docs.slack.dev/reference/methods/chat.postMessage (``channel`` and one of ``text``,
  ``blocks``, ``attachments``; answers ``channel`` and ``ts``), .../chat.update (``channel``,
  ``ts``; ``message_not_found``), .../pins.add (``channel``, ``timestamp``; ``already_pinned``).
- https://docs.slack.dev/reference/methods/usergroups.users.update (``usergroup``, ``users``).
- https://docs.slack.dev/reference/methods/users.lookupByEmail (``email``; ``users_not_found``),
  .../users.info (``user``; ``profile.email``, ``is_email_confirmed``).
- https://docs.slack.dev/reference/methods/views.open (``trigger_id``, ``view``; a view has
  ``type``, ``title`` and ``blocks``, a modal at most 100 blocks).
- https://docs.slack.dev/interactivity/handling-user-interaction#message_responses
  (``response_url``: POST JSON, answers ``ok``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

REQUIRED = {
    "conversations.create": ["name"],
    "conversations.invite": ["channel", "users"],
    "conversations.setTopic": ["channel", "topic"],
    "conversations.archive": ["channel"],
    "conversations.list": [],
    "conversations.history": ["channel"],
    "chat.postMessage": ["channel"],
    "chat.update": ["channel", "ts"],
    "pins.add": ["channel", "timestamp"],
    "usergroups.users.update": ["usergroup", "users"],
    "users.lookupByEmail": ["email"],
    "users.info": ["user"],
    "views.open": ["trigger_id", "view"],
}
FORM_ONLY = {"users.lookupByEmail", "users.info", "conversations.history", "conversations.list"}


@dataclass
class Call:
    method: str
    args: dict
    status: int
    answer: dict


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    users: dict = field(default_factory=dict)  # id -> {"email", "name", "confirmed"}
    channels: dict = field(
        default_factory=dict
    )  # id -> {"name", "members", "topic", "archived", "messages", "pins"}
    usergroups: dict = field(default_factory=dict)  # id -> [user ids]
    calls: list = field(default_factory=list)
    responses: list = field(default_factory=list)  # what was posted to response URLs
    views: list = field(default_factory=list)
    failure: tuple | None = None  # (status, retry_after, until_monotonic)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = None

    # --- set-up and inspection -----------------------------------------------------------------
    def add_user(self, user_id: str, email: str, *, name: str = "", confirmed: bool = True) -> str:
        self.users[user_id] = {"email": email, "name": name or email.split("@")[0], "confirmed": confirmed}
        return user_id

    def fail(self, status: int, *, seconds: float, retry_after: int | None = None) -> None:
        """Answer every call with ``status`` for ``seconds`` (a 429 carries ``Retry-After``)."""
        self.failure = (status, retry_after, time.time() + seconds)

    def recover(self) -> None:
        self.failure = None

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.answer.get("ok")]

    def channel_by_name(self, name: str) -> dict | None:
        return next((c for c in self.channels.values() if c["name"] == name), None)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def response_url(self, key: str = "r1") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/response/{key}"

    # --- the API ---------------------------------------------------------------------------------
    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def handle(self, method: str, args: dict) -> dict:
        if method == "conversations.create":
            name = args["name"]
            if not name.islower() or len(name) > 80 or " " in name or "." in name:
                return {"ok": False, "error": "invalid_name_specials"}
            if self.channel_by_name(name):
                return {"ok": False, "error": "name_taken"}
            cid = f"C{next(self._ids):08d}"
            self.channels[cid] = {
                "id": cid, "name": name, "members": [], "topic": "", "archived": False, "messages": {}, "pins": [],
            }  # fmt: skip
            return {"ok": True, "channel": {"id": cid, "name": name, "is_channel": True}}
        if method == "conversations.list":
            return {
                "ok": True,
                "channels": [
                    {"id": c["id"], "name": c["name"]} for c in self.channels.values() if not c["archived"]
                ],
                "response_metadata": {"next_cursor": ""},
            }
        if method == "users.lookupByEmail":
            for uid, user in self.users.items():
                if user["email"].lower() == args["email"].lower():
                    return {
                        "ok": True,
                        "user": {"id": uid, "name": user["name"], "profile": {"email": user["email"]}},
                    }
            return {"ok": False, "error": "users_not_found"}
        if method == "users.info":
            user = self.users.get(args["user"])
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {
                "ok": True,
                "user": {
                    "id": args["user"], "name": user["name"], "deleted": False, "is_bot": False,
                    "is_email_confirmed": user["confirmed"], "profile": {"email": user["email"]},
                },
            }  # fmt: skip
        if method == "usergroups.users.update":
            users = [u for u in args["users"].split(",") if u]
            if not users or any(u not in self.users for u in users):
                return {"ok": False, "error": "invalid_users"}
            self.usergroups[args["usergroup"]] = users
            return {"ok": True, "usergroup": {"id": args["usergroup"], "users": users}}
        if method == "views.open":
            view = args["view"] if isinstance(args["view"], dict) else json.loads(args["view"])
            if view.get("type") != "modal" or "title" not in view or len(view.get("blocks", [])) > 100:
                return {"ok": False, "error": "invalid_arguments"}
            self.views.append(view)
            return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", **view}}
        # channel methods
        channel_id = args["channel"]
        if method == "chat.postMessage" and channel_id in self.users:  # a DM with the app
            channel = self.channels.setdefault(
                f"D{channel_id}",
                {"id": f"D{channel_id}", "name": "", "members": [channel_id], "topic": "", "archived": False,
                 "messages": {}, "pins": []},
            )  # fmt: skip
        else:
            channel = self.channels.get(channel_id)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel["archived"] and method != "conversations.history":
            return {"ok": False, "error": "is_archived"}
        if method == "conversations.invite":
            users = [u for u in args["users"].split(",") if u]
            if any(u not in self.users for u in users):
                return {"ok": False, "error": "user_not_found"}
            new = [u for u in users if u not in channel["members"]]
            if not new:
                return {"ok": False, "error": "already_in_channel"}
            channel["members"].extend(new)
            return {"ok": True, "channel": {"id": channel["id"]}}
        if method == "conversations.setTopic":
            channel["topic"] = args["topic"]
            return {"ok": True, "channel": {"id": channel["id"], "topic": {"value": args["topic"]}}}
        if method == "conversations.archive":
            channel["archived"] = True
            return {"ok": True}
        if method == "conversations.history":
            latest = args.get("latest")
            messages = sorted(channel["messages"].values(), key=lambda m: m["ts"], reverse=True)
            if latest:
                messages = [m for m in messages if m["ts"] <= latest]
            return {"ok": True, "messages": messages[: int(args.get("limit", 100))]}
        if method == "chat.postMessage":
            if not (args.get("text") or args.get("blocks") or args.get("attachments")):
                return {"ok": False, "error": "no_text"}
            ts = self._ts()
            channel["messages"][ts] = {"ts": ts, "text": args.get("text", ""), "blocks": args.get("blocks", []),
                                       "user": "UBOT"}  # fmt: skip
            return {"ok": True, "channel": channel["id"], "ts": ts, "message": channel["messages"][ts]}
        if method == "chat.update":
            message = channel["messages"].get(args["ts"])
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(
                text=args.get("text", message["text"]), blocks=args.get("blocks", message["blocks"])
            )
            return {"ok": True, "channel": channel["id"], "ts": args["ts"], "text": message["text"]}
        if method == "pins.add":
            if args["timestamp"] not in channel["messages"]:
                return {"ok": False, "error": "message_not_found"}
            if args["timestamp"] in channel["pins"]:
                return {"ok": False, "error": "already_pinned"}
            channel["pins"].append(args["timestamp"])
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    def post_message_as(self, channel_id: str, user_id: str, text: str, ts: str | None = None) -> str:
        """A person writes in a channel (what the app would see in conversations.history)."""
        ts = ts or self._ts()
        self.channels[channel_id]["messages"][ts] = {
            "ts": ts,
            "text": text,
            "user": user_id,
            "type": "message",
        }
        return ts

    # --- server ----------------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict | str, headers: dict | None = None) -> None:
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "application/json" if isinstance(body, dict) else "text/plain"
                )
                self.send_header("Content-Length", str(len(raw)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake._lock:
                    self._handle(raw)

            def _handle(self, raw: bytes) -> None:
                if fake.failure and time.time() < fake.failure[2]:
                    status, retry_after, _ = fake.failure
                    fake.calls.append(Call(self.path, {}, status, {}))
                    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                    return self._send(
                        status, {"ok": False, "error": "ratelimited"} if status == 429 else "down", headers
                    )
                if self.path.startswith("/response/"):
                    fake.responses.append({"url": self.path, **json.loads(raw or b"{}")})
                    return self._send(200, "ok")
                if not self.path.startswith("/api/"):
                    return self._send(404, {"ok": False, "error": "unknown_method"})
                method = self.path.removeprefix("/api/")
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if content_type == "application/json":
                    if method in FORM_ONLY:
                        return self._record(method, {}, {"ok": False, "error": "invalid_arguments"})
                    args = json.loads(raw or b"{}")
                elif content_type == "application/x-www-form-urlencoded":
                    args = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    return self._record(method, {}, {"ok": False, "error": "invalid_form_data"})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._record(method, args, {"ok": False, "error": "invalid_auth"})
                if method not in REQUIRED:
                    return self._record(method, args, {"ok": False, "error": "unknown_method"})
                missing = [name for name in REQUIRED[method] if args.get(name) in (None, "")]
                if missing:
                    return self._record(
                        method, args, {"ok": False, "error": "invalid_arguments", "missing": missing}
                    )
                return self._record(method, args, fake.handle(method, args))

            def _record(self, method: str, args: dict, answer: dict) -> None:
                fake.calls.append(Call(method, args, 200, answer))
                self._send(200, answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
