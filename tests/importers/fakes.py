"""Local fake servers of PagerDuty, Opsgenie and Grafana OnCall, serving one fixture
organisation in each vendor's published shapes, with pagination and one 429 (Retry-After).

Written from the vendors' API references:
- PagerDuty REST API v2 (developer.pagerduty.com/api-reference; OpenAPI
  github.com/PagerDuty/api-schema reference/REST/openapiv3.json): List users, List teams,
  List services, List schedules, Get a schedule (``final_schedule.rendered_schedule_entries``),
  List overrides, List escalation policies; classic pagination (limit/offset/more).
- Opsgenie API v2 (docs.opsgenie.com/docs/user-api, team-api, schedule-api,
  schedule-override-api, escalation-api, integration-api): ``data`` + ``paging.next``;
  Get Schedule Timeline (``finalTimeline.rotations[].periods``).
- Grafana OnCall API v1 (grafana.com/docs/oncall/latest/oncall-api-reference/: users, teams,
  schedules, on_call_shifts, escalation_chains, escalation_policies, integrations):
  ``results`` + ``next``; Export final shifts (``final_shifts``).

The fakes compute each source's final schedule from the fixture layers with their own small
expander below (not Ops Portal's engine): that is what the importer's verification checks
Ops Portal against.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

NOW = datetime(2027, 3, 1, tzinfo=UTC)  # four weeks across US (Mar 14) and EU (Mar 28) DST
WEEKDAYS = range(5)

# --- the fixture organisation (neutral) ------------------------------------------------------

USERS = [{"id": f"U{i:02d}", "email": f"person{i}@example.com", "name": f"Person {i}"} for i in range(22)]
TEAMS = [{"id": f"T{i}", "name": name, "members": [f"U{j:02d}" for j in range(i * 4, i * 4 + 5)]}
         for i, name in enumerate(["Platform", "Payments", "Search", "SRE", "Mobile"])]  # fmt: skip


def L(name, start, hours, users, windows=None, end=None):
    return {
        "name": name,
        "start": start,
        "hours": hours,
        "users": users,
        "windows": windows or [],
        "end": end,
    }


D9 = datetime(2026, 1, 5, 9, 0)  # a Monday 09:00 (local)
SCHEDULES = [
    {"id": "S1", "name": "Platform primary", "tz": "Europe/Berlin", "team": "T0",
     "layers": [L("Weekly", D9, 168, ["U00", "U01", "U02", "U03"])], "overrides": []},
    {"id": "S2", "name": "Payments business hours", "tz": "America/New_York", "team": "T1",
     "layers": [L("Base", D9, 168, ["U04", "U05", "U06"]),
                L("Office hours", D9, 168, ["U07", "U08"], windows=[(d, time(9), 8) for d in WEEKDAYS])],
     "overrides": []},
    {"id": "S3", "name": "Search weekends", "tz": "Europe/London", "team": "T2",
     "layers": [L("Daily", D9, 24, ["U09", "U10", "U11"]),
                L("Weekend", datetime(2026, 1, 10, 0, 0), 168, ["U12", "U13"], windows=[(5, time(0), 24), (6, time(0), 24)])],
     "overrides": []},
    {"id": "S4", "name": "SRE follow the sun", "tz": "Australia/Sydney", "team": "T3",
     "layers": [L("12 hours", D9, 12, ["U14", "U15", "U16"])], "overrides": []},
    {"id": "S5", "name": "Mobile with overrides", "tz": "America/Los_Angeles", "team": "T4",
     "layers": [L("Weekly", D9, 168, ["U17", "U18"])],
     "overrides": [("O1", "U19", datetime(2027, 3, 5, 18, tzinfo=UTC), datetime(2027, 3, 7, 18, tzinfo=UTC)),
                   ("O2", "U00", datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 3, 21, 12, tzinfo=UTC))]},
    {"id": "S6", "name": "Data fortnightly", "tz": "Asia/Kolkata", "team": "T0",
     "layers": [L("Two weeks", datetime(2026, 1, 5, 10, 0), 336, ["U01", "U02", "U03"])], "overrides": []},
    {"id": "S7", "name": "Edge with an ending layer", "tz": "Europe/Berlin", "team": "T1",
     "layers": [L("Daily", D9, 24, ["U05", "U06"]),
                L("Project", D9, 168, ["U20", "U21"], end=datetime(2027, 3, 15, 8, tzinfo=UTC))],
     "overrides": []},
    {"id": "S8", "name": "Legacy odd rotation", "tz": "UTC", "team": "T2", "unmappable": True,
     "layers": [L("90 minutes", D9, 1.5, ["U09", "U10"])], "overrides": []},
]  # fmt: skip
POLICIES = [{"id": f"P{i}", "name": f"{t['name']} escalation", "team": t["id"], "schedule": SCHEDULES[i]["id"],
             "user": t["members"][0]} for i, t in enumerate(TEAMS)]  # fmt: skip
SERVICES = [
    {"id": f"SV{i}", "name": f"{t['name']} API", "team": t["id"], "policy": f"P{i}"}
    for i, t in enumerate(TEAMS)
]


# --- the fakes' own expander --------------------------------------------------------------------


def _utc(naive: datetime, z: ZoneInfo) -> datetime:
    return naive.replace(tzinfo=z).astimezone(UTC)


def layer_entries(s: dict, layer: dict, since: datetime, until: datetime) -> list[tuple]:
    z = ZoneInfo(s["tz"])
    turn = timedelta(hours=layer["hours"])
    out, k = [], 0
    while True:
        a, b = _utc(layer["start"] + k * turn, z), _utc(layer["start"] + (k + 1) * turn, z)
        if a >= until:
            break
        if layer["end"] is not None:
            b = min(b, layer["end"])
        if b > since and b > a:
            out.append((a, b, layer["users"][k % len(layer["users"])]))
        if layer["end"] is not None and b >= layer["end"]:
            break
        k += 1
    if not layer["windows"]:
        return out
    wins = []
    day = (since - timedelta(days=2)).astimezone(z).date()
    while _utc(datetime.combine(day, time(0)), z) < until + timedelta(days=1):
        for wd, t, hours in layer["windows"]:
            if day.weekday() == wd:
                start = datetime.combine(day, t)
                wins.append((_utc(start, z), _utc(start + timedelta(hours=hours), z)))
        day += timedelta(days=1)
    cut = []
    for a, b, who in out:
        for wa, wb in wins:
            x, y = max(a, wa), min(b, wb)
            if y > x:
                cut.append((x, y, who))
    return cut


def final(s: dict, since: datetime, until: datetime) -> list[tuple]:
    """Overrides on top, then layers from the highest; clipped to [since, until)."""
    tiers = [[(a, b, who) for _, who, a, b in s["overrides"]]]
    tiers += [layer_entries(s, layer, since, until) for layer in reversed(s["layers"])]
    cuts = sorted({since, until, *(x for tier in tiers for e in tier for x in e[:2] if since < x < until)})
    out = []
    for a, b in itertools.pairwise(cuts):
        for tier in tiers:
            who = next((e[2] for e in tier if e[0] <= a and b <= e[1]), None)
            if who:
                if out and out[-1][2] == who and out[-1][1] == a:
                    out[-1] = (out[-1][0], b, who)
                else:
                    out.append((a, b, who))
                break
    return out


EMAIL = {u["id"]: u["email"] for u in USERS}


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


# --- a small threaded HTTP server ---------------------------------------------------------------


class Fake:
    """Serves ``route(path, query) -> (status, body)``; one 429 (Retry-After) on the first
    request for ``throttle_path``; checks the Authorization header."""

    def __init__(self, route, auth: str, throttle_path: str) -> None:
        self.route, self.auth, self.throttle_path = route, auth, throttle_path
        self.throttled = False
        self.hits: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                fake.hits.append(self.path)
                if self.headers.get("Authorization") != fake.auth:
                    return self._send(401, {"error": {"message": "Unauthorized"}})
                if url.path.rstrip("/").endswith(fake.throttle_path) and not fake.throttled:
                    fake.throttled = True
                    return self._send(429, {"message": "rate limited"}, {"Retry-After": "2"})
                status, body = fake.route(
                    url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}, fake.base
                )
                self._send(status, body)

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _local(s: dict, naive: datetime) -> str:
    return naive.replace(tzinfo=ZoneInfo(s["tz"])).isoformat()


def _group_windows(windows):
    return windows


# --- PagerDuty ---------------------------------------------------------------------------------


def _pd_page(key: str, items: list, q: dict, size: int = 7):
    offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 25)), size)
    return 200, {key: items[offset : offset + limit], "limit": limit, "offset": offset,
                 "more": offset + limit < len(items), "total": None}  # fmt: skip


def _pd_layer(s: dict, layer: dict, i: int) -> dict:
    restrictions = []
    days = {wd for wd, _, _ in layer["windows"]}
    same = {(t, h) for _, t, h in layer["windows"]}
    if days == set(range(7)) and len(same) == 1:
        t, h = same.pop()
        restrictions.append(
            {
                "type": "daily_restriction",
                "start_time_of_day": t.strftime("%H:%M:%S"),
                "duration_seconds": int(h * 3600),
            }
        )
    else:
        for wd, t, h in layer["windows"]:
            restrictions.append({"type": "weekly_restriction", "start_day_of_week": wd + 1,
                                 "start_time_of_day": t.strftime("%H:%M:%S"), "duration_seconds": int(h * 3600)})  # fmt: skip
    return {"id": f"{s['id']}L{i}", "name": layer["name"], "start": _local(s, layer["start"]),
            "end": iso(layer["end"]) if layer["end"] else None, "rotation_virtual_start": _local(s, layer["start"]),
            "rotation_turn_length_seconds": int(layer["hours"] * 3600),
            "users": [{"user": {"id": u, "type": "user_reference"}} for u in layer["users"]],
            "restrictions": restrictions}  # fmt: skip


def pagerduty_route(path: str, q: dict, base: str):
    parts = path.strip("/").split("/")
    if parts == ["users"]:
        users = [{"id": u["id"], "type": "user", "name": u["name"], "email": u["email"], "time_zone": "Europe/Berlin",
                  "teams": [{"id": t["id"], "type": "team_reference"} for t in TEAMS if u["id"] in t["members"]],
                  "contact_methods": [{"type": "email_contact_method", "address": u["email"]}]} for u in USERS]  # fmt: skip
        return _pd_page("users", users, q)
    if parts == ["teams"]:
        return _pd_page("teams", [{"id": t["id"], "type": "team", "name": t["name"]} for t in TEAMS], q)
    if parts == ["services"]:
        items = [{"id": s["id"], "type": "service", "name": s["name"], "teams": [{"id": s["team"]}],
                  "escalation_policy": {"id": s["policy"], "type": "escalation_policy_reference"},
                  "integrations": [{"id": f"I{s['id']}", "type": "events_api_v2_inbound_integration",
                                    "summary": f"{s['name']} events"}]} for s in SERVICES]  # fmt: skip
        return _pd_page("services", items, q)
    if parts == ["schedules"]:
        return _pd_page("schedules", [{"id": s["id"], "name": s["name"]} for s in SCHEDULES], q, size=5)
    if parts[0] == "schedules" and len(parts) == 2:
        s = next(x for x in SCHEDULES if x["id"] == parts[1])
        body = {"id": s["id"], "type": "schedule", "name": s["name"], "time_zone": s["tz"], "teams": [{"id": s["team"]}],
                "schedule_layers": [_pd_layer(s, layer, i) for i, layer in reversed(list(enumerate(s["layers"])))]}  # fmt: skip
        if "since" in q:
            since, until = datetime.fromisoformat(q["since"]), datetime.fromisoformat(q["until"])
            body["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries": [
                {"start": iso(a), "end": iso(b), "user": {"id": who, "type": "user_reference", "summary": who}}
                for a, b, who in final(s, since, until)]}  # fmt: skip
        return 200, {"schedule": body}
    if parts[0] == "schedules" and parts[2:] == ["overrides"]:
        s = next(x for x in SCHEDULES if x["id"] == parts[1])
        return 200, {"overrides": [{"id": oid, "start": iso(a), "end": iso(b), "user": {"id": who, "type": "user_reference"}}
                                   for oid, who, a, b in s["overrides"]]}  # fmt: skip
    if parts == ["escalation_policies"]:
        items = [{"id": p["id"], "name": p["name"], "num_loops": 1, "teams": [{"id": p["team"]}],
                  "escalation_rules": [
                      {"escalation_delay_in_minutes": 10, "targets": [{"id": p["schedule"], "type": "schedule_reference"}]},
                      {"escalation_delay_in_minutes": 15, "targets": [{"id": p["user"], "type": "user_reference"}]}]}
                 for p in POLICIES]  # fmt: skip
        return _pd_page("escalation_policies", items, q, size=3)
    return 404, {"error": {"message": "Not Found"}}


def pagerduty(key: str = "pd-key") -> Fake:
    return Fake(pagerduty_route, f"Token token={key}", "users")


# --- Opsgenie -----------------------------------------------------------------------------------

DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _og_page(items: list, q: dict, base: str, path: str, size: int = 8):
    offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 20)), size)
    paging = {"first": f"{base}{path}?limit={limit}&offset=0"}
    if offset + limit < len(items):
        paging["next"] = f"{base}{path}?limit={limit}&offset={offset + limit}"
    return 200, {"data": items[offset : offset + limit], "paging": paging, "took": 0.01, "requestId": "r"}


def _og_rotation(s: dict, layer: dict, i: int) -> dict:
    h = layer["hours"]
    kind, length = (
        ("weekly", h // 168) if h % 168 == 0 else ("daily", h // 24) if h % 24 == 0 else ("hourly", h)
    )
    participants = [{"type": "user", "id": u, "username": EMAIL[u]} for u in layer["users"]]
    if s.get("unmappable"):
        participants = [{"type": "team", "id": "T2", "name": "Search"}]
    r = {"id": f"{s['id']}R{i}", "name": layer["name"], "startDate": iso(_utc(layer["start"], ZoneInfo(s["tz"]))),
         "type": kind, "length": int(length), "participants": participants}  # fmt: skip
    if layer["end"]:
        r["endDate"] = iso(layer["end"])
    if layer["windows"]:
        rs = []
        for wd, t, hours in layer["windows"]:
            end = datetime.combine(date(2027, 1, 4) + timedelta(days=wd), t) + timedelta(hours=hours)
            rs.append({"startDay": DAY_NAMES[wd], "startHour": t.hour, "startMin": t.minute,
                       "endDay": DAY_NAMES[end.weekday()], "endHour": end.hour, "endMin": end.minute})  # fmt: skip
        r["timeRestriction"] = {"type": "weekday-and-time-of-day", "restrictions": rs}
    return r


def opsgenie_route(path: str, q: dict, base: str):
    parts = path.strip("/").split("/")[1:]  # after v2
    if parts == ["users"]:
        users = [{"id": u["id"], "username": u["email"], "fullName": u["name"], "timeZone": "Europe/Berlin",
                  "role": {"name": "User"}} for u in USERS]  # fmt: skip
        return _og_page(users, q, base, path)
    if parts == ["teams"]:
        return 200, {"data": [{"id": t["id"], "name": t["name"], "description": ""} for t in TEAMS]}
    if parts[:1] == ["teams"]:
        t = next(x for x in TEAMS if x["id"] == parts[1])
        return 200, {"data": {"id": t["id"], "name": t["name"],
                              "members": [{"user": {"id": m, "username": EMAIL[m]}, "role": "user"} for m in t["members"]]}}  # fmt: skip
    if parts == ["schedules"]:
        items = [{"id": s["id"], "name": s["name"], "timezone": s["tz"], "enabled": True,
                  "ownerTeam": {"id": s["team"]},
                  "rotations": [_og_rotation(s, layer, i) for i, layer in reversed(list(enumerate(s["layers"])))]}
                 for s in SCHEDULES]  # fmt: skip
        return _og_page(items, q, base, path, size=3)
    if parts[:1] == ["schedules"] and parts[2:] == ["overrides"]:
        s = next(x for x in SCHEDULES if x["id"] == parts[1])
        return 200, {"data": [{"alias": oid, "user": {"type": "user", "username": EMAIL[who]}, "startDate": iso(a),
                               "endDate": iso(b), "rotations": []} for oid, who, a, b in s["overrides"]]}  # fmt: skip
    if parts[:1] == ["schedules"] and parts[2:] == ["timeline"]:
        s = next(x for x in SCHEDULES if x["id"] == parts[1])
        since = datetime.fromisoformat(q["date"].replace("Z", "+00:00"))
        until = since + timedelta(weeks=int(q.get("interval", 1)))
        periods = [{"startDate": iso(a), "endDate": iso(b), "type": "default", "recipient": {"type": "user", "name": EMAIL[who]}}
                   for a, b, who in final(s, since, until)]  # fmt: skip
        return 200, {"data": {"startDate": iso(since), "endDate": iso(until),
                              "finalTimeline": {"rotations": [{"id": "final", "name": "final", "periods": periods}]}}}  # fmt: skip
    if parts == ["escalations"]:
        items = [{"id": p["id"], "name": p["name"], "ownerTeam": {"id": p["team"]}, "repeat": {"count": 1},
                  "rules": [{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                             "recipient": {"type": "schedule", "id": p["schedule"]}},
                            {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 10, "timeUnit": "minutes"},
                             "recipient": {"type": "user", "id": p["user"]}}]} for p in POLICIES]  # fmt: skip
        return _og_page(items, q, base, path, size=2)
    if parts == ["integrations"]:
        items = [
            {"id": f"I{t['id']}", "name": f"{t['name']} Prometheus", "type": "Prometheus", "teamId": t["id"]}
            for t in TEAMS
        ]
        return _og_page(items, q, base, path)
    return 404, {"message": "Not found"}


def opsgenie(key: str = "og-key") -> Fake:
    return Fake(opsgenie_route, f"GenieKey {key}", "v2/users")


# --- Grafana OnCall -----------------------------------------------------------------------------

BY_DAY = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def _go_page(items: list, q: dict, base: str, path: str, size: int = 6):
    page = int(q.get("page", 1))
    chunk = items[(page - 1) * size : page * size]
    more = page * size < len(items)
    extra = "&".join(f"{k}={v}" for k, v in q.items() if k != "page")
    nxt = f"{base}{path}?page={page + 1}" + (f"&{extra}" if extra else "") if more else None
    return 200, {"count": len(items), "next": nxt, "previous": None, "results": chunk, "page_size": size,
                 "current_page_number": page, "total_pages": (len(items) + size - 1) // size}  # fmt: skip


def _go_shifts() -> list[dict]:
    shifts = []
    for s in SCHEDULES:
        for i, layer in enumerate(s["layers"]):
            h = layer["hours"]
            freq, interval = (
                ("weekly", h // 168) if h % 168 == 0 else ("daily", h // 24) if h % 24 == 0 else ("hourly", h)
            )
            windows = layer["windows"]
            duration = int((windows[0][2] if windows else h) * 3600)
            shifts.append({"id": f"{s['id']}SH{i}", "schedule": s["id"], "team_id": s["team"], "name": layer["name"],
                           "type": "rolling_users", "time_zone": s["tz"], "level": i,
                           "start": layer["start"].strftime("%Y-%m-%dT%H:%M:%S"), "duration": duration,
                           "frequency": freq, "interval": int(interval), "week_start": "MO",
                           "by_day": [BY_DAY[wd] for wd, _, _ in windows] or None,
                           "until": iso(layer["end"]) if layer["end"] else None,
                           "rolling_users": [[u] for u in layer["users"]]})  # fmt: skip
        for oid, who, a, b in s["overrides"]:
            shifts.append({"id": f"{s['id']}{oid}", "schedule": s["id"], "team_id": s["team"], "name": oid, "type": "override",
                           "time_zone": "UTC", "start": iso(a), "duration": int((b - a).total_seconds()),
                           "rolling_users": [[who]]})  # fmt: skip
    return shifts


def grafana_route(path: str, q: dict, base: str):
    parts = path.strip("/").split("/")[2:]  # after api/v1
    if parts == ["users"]:
        users = [{"id": u["id"], "email": u["email"], "username": u["email"].split("@")[0], "name": u["name"],
                  "role": "user", "timezone": "Europe/Berlin",
                  "teams": [t["id"] for t in TEAMS if u["id"] in t["members"]]} for u in USERS]  # fmt: skip
        return _go_page(users, q, base, path)
    if parts == ["teams"]:
        return _go_page([{"id": t["id"], "name": t["name"], "email": ""} for t in TEAMS], q, base, path)
    if parts == ["on_call_shifts"]:
        return _go_page(_go_shifts(), q, base, path, size=5)
    if parts == ["schedules"]:
        shifts = _go_shifts()
        items = []
        for s in SCHEDULES:
            item = {"id": s["id"], "team_id": s["team"], "name": s["name"], "type": "web", "time_zone": s["tz"],
                    "shifts": [x["id"] for x in shifts if x["schedule"] == s["id"]]}  # fmt: skip
            if s.get("unmappable"):
                item.update(type="ical", shifts=[], ical_url_primary="https://calendar.example/legacy.ics")
            items.append(item)
        return _go_page(items, q, base, path, size=4)
    if parts[:1] == ["schedules"] and parts[2:] == ["final_shifts"]:
        s = next(x for x in SCHEDULES if x["id"] == parts[1])
        since = datetime.combine(date.fromisoformat(q["start_date"]), time(0), tzinfo=UTC)
        until = datetime.combine(date.fromisoformat(q["end_date"]), time(0), tzinfo=UTC) + timedelta(days=1)
        items = [{"user_pk": who, "user_email": EMAIL[who], "user_username": EMAIL[who].split("@")[0],
                  "shift_start": iso(a), "shift_end": iso(b)} for a, b, who in final(s, since, until)]  # fmt: skip
        return _go_page(items, q, base, path, size=50)
    if parts == ["escalation_chains"]:
        return _go_page(
            [{"id": p["id"], "name": p["name"], "team_id": p["team"]} for p in POLICIES], q, base, path
        )
    if parts == ["escalation_policies"]:
        items = []
        for p in POLICIES:
            items += [{"id": f"{p['id']}E1", "escalation_chain_id": p["id"], "position": 0, "type": "notify_on_call_from_schedule",
                       "notify_on_call_from_schedule": p["schedule"]},
                      {"id": f"{p['id']}E2", "escalation_chain_id": p["id"], "position": 1, "type": "wait", "duration": 600},
                      {"id": f"{p['id']}E3", "escalation_chain_id": p["id"], "position": 2, "type": "notify_persons",
                       "persons_to_notify": [p["user"]]}]  # fmt: skip
        return _go_page(items, q, base, path)
    if parts == ["integrations"]:
        items = [{"id": f"I{t['id']}", "name": f"{t['name']} alerts", "type": "alertmanager", "team_id": t["id"],
                  "link": f"https://oncall.example/integrations/v1/alertmanager/{t['id']}/"} for t in TEAMS]  # fmt: skip
        return _go_page(items, q, base, path)
    return 404, {"detail": "Not found."}


def grafana_oncall(key: str = "go-key") -> Fake:
    return Fake(grafana_route, key, "api/v1/users")
