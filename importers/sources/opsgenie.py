"""Opsgenie REST API v2 reader.

Written from Atlassian's Opsgenie API reference (docs.opsgenie.com/docs/api-overview):
User API (``GET /v2/users``, paging ``limit``/``offset`` with ``paging.next``), Team API
(``GET /v2/teams``, ``GET /v2/teams/{id}`` for members), Schedule API
(``GET /v2/schedules?expand=rotation``; Get Schedule Timeline
``GET /v2/schedules/{id}/timeline?interval=..&intervalUnit=weeks&date=..``: ``finalTimeline``),
Schedule Override API (``GET /v2/schedules/{id}/overrides``), Escalation API
(``GET /v2/escalations``), Integration API (``GET /v2/integrations``). Authentication:
``Authorization: GenieKey <key>``.

Rotations: Opsgenie lists the top rotation first (it wins where rotations overlap in the
final timeline); Ops Portal lists layers lowest first.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from importers import org
from importers.sources.common import Malformed, aware, merge_days, window, zone

BASE_URL = "https://api.opsgenie.com"
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {key}"}


def _pages(client, path: str, params: dict | None = None) -> list[dict]:
    out: list[dict] = []
    body = client.get(path, {**(params or {}), "limit": 100, "offset": 0})
    while True:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise Malformed(f"GET {path}: no data list in the answer")
        out.extend(d for d in data if isinstance(d, dict))
        nxt = (body.get("paging") or {}).get("next")
        if not nxt or not data:
            return out
        body = client.get(nxt)


def read(client, *, since: datetime, until: datetime) -> org.Org:
    o = org.Org(source="opsgenie")
    by_name: dict[str, str] = {}
    for u in _pages(client, "v2/users"):
        if not u.get("id") or not u.get("username"):
            o.problems.append(f"user {u.get('id') or '?'}: no id or username, skipped")
            continue
        o.users.append(org.User(u["id"], u["username"], u.get("fullName", ""), u.get("timeZone", "")))
        by_name[u["username"].lower()] = u["id"]
    for t in _pages(client, "v2/teams"):
        detail = client.get(f"v2/teams/{t['id']}").get("data") or {}
        members = [(m.get("user") or {}).get("id") for m in detail.get("members") or []]
        o.teams.append(
            org.Team(t["id"], t.get("name") or t["id"], [m for m in members if m], t.get("description") or "")
        )
    for s in _pages(client, "v2/schedules", {"expand": "rotation"}):
        try:
            o.schedules.append(_schedule(client, s, by_name))
        except Malformed as exc:
            o.problems.append(f"schedule {s.get('name') or s.get('id')}: {exc}; skipped")
    for e in _pages(client, "v2/escalations"):
        o.policies.append(_policy(e))
    for i in _pages(client, "v2/integrations"):
        o.integrations.append(
            org.Integration(i["id"], i.get("name") or i["id"], i.get("type", ""), None, i.get("teamId"))
        )
    return o


def _user_id(ref: dict, by_name: dict[str, str]) -> str | None:
    return ref.get("id") or by_name.get((ref.get("username") or ref.get("name") or "").lower())


def _schedule(client, s: dict, by_name: dict[str, str]) -> org.Schedule:
    tz = s.get("timezone") or "UTC"
    z = zone(tz)
    out = org.Schedule(s["id"], s.get("name") or s["id"], tz, (s.get("ownerTeam") or {}).get("id"))
    for n, r in enumerate(reversed(s.get("rotations") or [])):
        name = r.get("name") or f"Rotation {n + 1}"
        unit = UNITS.get(r.get("type"))
        if unit is None:
            raise Malformed(f"rotation {name}: unknown type {r.get('type')!r}")
        users = []
        for p in r.get("participants") or []:
            if p.get("type") != "user":
                out.unmappable = (
                    f"rotation {name} has a {p.get('type')} participant: Ops Portal rotations are people"
                )
                return out
            users.append(_user_id(p, by_name))
        if not users or None in users:
            raise Malformed(f"rotation {name} has no participants")
        start = aware(r.get("startDate")).astimezone(z)
        end = aware(r["endDate"]) if r.get("endDate") else None
        layer = org.Layer(name, start.replace(tzinfo=None), unit, int(r.get("length") or 1), users, end=end)
        tr = r.get("timeRestriction") or {}
        restrictions = []
        if tr.get("type") == "time-of-day":
            x = tr.get("restriction") or {}
            a, b = (
                time(x.get("startHour", 0), x.get("startMin", 0)),
                time(x.get("endHour", 0), x.get("endMin", 0)),
            )
            restrictions.append(org.Restriction(list(range(7)), a, b))
        elif tr.get("type") == "weekday-and-time-of-day":
            for x in tr.get("restrictions") or []:
                d0, d1 = DAYS.index(x["startDay"]), DAYS.index(x["endDay"])
                a = time(x.get("startHour", 0), x.get("startMin", 0))
                b = time(x.get("endHour", 0), x.get("endMin", 0))
                seconds = (
                    ((d1 - d0) % 7) * 86400
                    + (b.hour * 3600 + b.minute * 60)
                    - (a.hour * 3600 + a.minute * 60)
                )
                if seconds <= 0:
                    seconds += 7 * 86400
                restrictions.extend(window(d0, a, seconds))
        elif tr:
            raise Malformed(f"rotation {name}: unknown time restriction {tr.get('type')!r}")
        layer.restrictions = merge_days(restrictions)
        out.layers.append(layer)
    body = client.get(f"v2/schedules/{s['id']}/overrides")
    for ov in body.get("data") or []:
        who = _user_id(ov.get("user") or {}, by_name)
        if who:
            out.overrides.append(org.Override(who, aware(ov["startDate"]), aware(ov["endDate"])))
    return out


def _policy(e: dict) -> org.Policy:
    rules = []
    for r in e.get("rules") or []:
        rec = r.get("recipient") or {}
        delay = r.get("delay") or {}
        minutes = int(delay.get("timeAmount") or 0) * (60 if delay.get("timeUnit") == "hours" else 1)
        kind = {"user": "user", "schedule": "schedule"}.get(rec.get("type"))
        rules.append(org.Rule(minutes, [org.Target(kind, rec.get("id"))] if kind else []))
    # Opsgenie delays count from the alert; Ops Portal's from the previous level.
    rules.sort(key=lambda r: r.delay_minutes)
    levels = []
    for n, rule in enumerate(rules):
        nxt = rules[n + 1].delay_minutes if n + 1 < len(rules) else rule.delay_minutes + 15
        levels.append(org.Rule(max(1, nxt - rule.delay_minutes), rule.targets))
    repeat = e.get("repeat") or {}
    return org.Policy(e["id"], e.get("name") or e["id"], (e.get("ownerTeam") or {}).get("id"), levels,
                      repeat=min(int(repeat.get("count") or 0), 9))  # fmt: skip


def rendered(
    client, schedule_id: str, since: datetime, until: datetime, emails: dict[str, str]
) -> list[org.RenderedShift]:
    """Opsgenie's own final timeline (``finalTimeline``) from ``since`` for four weeks."""
    weeks = max(1, round((until - since).days / 7))
    body = client.get(
        f"v2/schedules/{schedule_id}/timeline",
        {
            "interval": weeks,
            "intervalUnit": "weeks",
            "date": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    final = ((body.get("data") or {}).get("finalTimeline") or {}).get("rotations") or []
    out = []
    for rotation in final:
        for p in rotation.get("periods") or []:
            rec = p.get("recipient") or {}
            who = rec.get("name") or emails.get(rec.get("id"), "")
            out.append(
                org.RenderedShift(
                    aware(p["startDate"]).astimezone(UTC), aware(p["endDate"]).astimezone(UTC), who
                )
            )
    return out
