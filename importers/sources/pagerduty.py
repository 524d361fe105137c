"""PagerDuty REST API v2 reader.

Written from PagerDuty's API reference (developer.pagerduty.com/api-reference, OpenAPI in
github.com/PagerDuty/api-schema ``reference/REST/openapiv3.json``): List users (``GET /users``
with ``include[]=contact_methods``), List teams (``GET /teams``), List services
(``GET /services`` with ``include[]=integrations``), List schedules / Get a schedule
(``GET /schedules/{id}`` with ``since``/``until``: ``final_schedule.rendered_schedule_entries``),
List overrides (``GET /schedules/{id}/overrides``), List escalation policies
(``GET /escalation_policies``). Classic pagination: ``limit``/``offset``/``more``.
Authentication: ``Authorization: Token token=<key>``.

Layer order: PagerDuty returns ``schedule_layers`` with the highest layer (the one on top,
"Layer N" in the web UI) first; Ops Portal lists layers lowest first.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from importers import org
from importers.sources.common import Malformed, aware, merge_days, unit_for, window, zone

BASE_URL = "https://api.pagerduty.com"
PAGE = 100


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Token token={key}", "Accept": "application/vnd.pagerduty+json;version=2"}


def _pages(client, path: str, key: str, params: dict | None = None) -> list[dict]:
    out, offset = [], 0
    while True:
        body = client.get(path, {**(params or {}), "limit": PAGE, "offset": offset})
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise Malformed(f"GET {path}: no {key!r} list in the answer")
        out.extend(i for i in items if isinstance(i, dict))
        if not body.get("more") or not items:
            return out
        # the page's own limit/offset say where the next page starts (a server may cap limit)
        limit = body.get("limit") if isinstance(body.get("limit"), int) and body["limit"] > 0 else len(items)
        offset = (body.get("offset") if isinstance(body.get("offset"), int) else offset) + limit


def _ref(obj) -> str | None:
    return obj.get("id") if isinstance(obj, dict) else None


def read(client, *, since: datetime, until: datetime) -> org.Org:
    o = org.Org(source="pagerduty")
    for u in _pages(client, "users", "users", {"include[]": "contact_methods"}):
        if not u.get("id") or not u.get("email"):
            o.problems.append(f"user {u.get('id') or '?'}: no id or e-mail, skipped")
            continue
        o.users.append(org.User(u["id"], u["email"], u.get("name", ""), u.get("time_zone", "")))
        for team in u.get("teams") or []:
            o.__dict__.setdefault("_members", {}).setdefault(_ref(team), []).append(u["id"])
    members = o.__dict__.pop("_members", {})
    for t in _pages(client, "teams", "teams"):
        o.teams.append(
            org.Team(t["id"], t.get("name") or t["id"], members.get(t["id"], []), t.get("description") or "")
        )
    for s in _pages(client, "services", "services", {"include[]": "integrations"}):
        team = _ref((s.get("teams") or [None])[0])
        o.services.append(
            org.Service(
                s["id"],
                s.get("name") or s["id"],
                team,
                _ref(s.get("escalation_policy")),
                s.get("description") or "",
            )
        )
        for i in s.get("integrations") or []:
            o.integrations.append(
                org.Integration(
                    i["id"], i.get("summary") or i.get("name") or i["id"], i.get("type", ""), s["id"], team
                )
            )
    for listed in _pages(client, "schedules", "schedules"):
        try:
            o.schedules.append(_schedule(client, listed["id"], since, until))
        except Malformed as exc:
            o.problems.append(f"schedule {listed.get('name') or listed.get('id')}: {exc}; skipped")
    for p in _pages(client, "escalation_policies", "escalation_policies"):
        o.policies.append(_policy(p))
    return o


def _schedule(client, schedule_id: str, since: datetime, until: datetime) -> org.Schedule:
    s = client.get(f"schedules/{schedule_id}").get("schedule") or {}
    tz = s.get("time_zone") or "UTC"
    z = zone(tz)
    team = _ref((s.get("teams") or [None])[0])
    out = org.Schedule(s.get("id", schedule_id), s.get("name") or schedule_id, tz, team)
    for position, raw in enumerate(reversed(s.get("schedule_layers") or [])):  # lowest first
        name = raw.get("name") or f"Layer {position + 1}"
        unit = unit_for(int(raw.get("rotation_turn_length_seconds") or 0))
        if unit is None:
            out.unmappable = f"layer {name}: a turn of {raw.get('rotation_turn_length_seconds')} s is not a whole number of hours"
            return out
        virtual = aware(raw.get("rotation_virtual_start")).astimezone(z)
        start = aware(raw.get("start")).astimezone(z)
        end = aware(raw["end"]) if raw.get("end") else None
        users = [_ref(entry.get("user")) for entry in raw.get("users") or []]
        if not users or None in users:
            raise Malformed(f"layer {name} has no users")
        layer = org.Layer(name, virtual.replace(tzinfo=None), unit[0], unit[1], users, end=end)
        if start > virtual:
            layer.notes.append(
                f"layer {name} starts {start:%Y-%m-%d %H:%M} after its rotation's virtual start; "
                "Ops Portal counts turns from the virtual start as PagerDuty does"
            )
        restrictions = []
        for r in raw.get("restrictions") or []:
            at = time.fromisoformat(r.get("start_time_of_day") or "00:00:00")
            seconds = int(r.get("duration_seconds") or 0)
            if r.get("type") == "daily_restriction":
                if seconds > 86400:
                    raise Malformed(f"daily restriction of {seconds} s")
                for day in range(7):
                    restrictions.extend(window(day, at, seconds))
            elif r.get("type") == "weekly_restriction":
                restrictions.extend(window(int(r.get("start_day_of_week") or 1) - 1, at, seconds))
            else:
                raise Malformed(f"unknown restriction type {r.get('type')!r}")
        layer.restrictions = merge_days(restrictions)
        out.layers.append(layer)
    body = client.get(
        f"schedules/{schedule_id}/overrides", {"since": since.isoformat(), "until": until.isoformat()}
    )
    for ov in body.get("overrides") or []:
        out.overrides.append(org.Override(_ref(ov.get("user")), aware(ov["start"]), aware(ov["end"])))
    return out


def _policy(p: dict) -> org.Policy:
    rules = []
    for r in p.get("escalation_rules") or []:
        targets = []
        for t in r.get("targets") or []:
            kind = {
                "user_reference": "user",
                "user": "user",
                "schedule_reference": "schedule",
                "schedule": "schedule",
            }.get(t.get("type"))
            if kind:
                targets.append(org.Target(kind, t["id"]))
        rules.append(org.Rule(int(r.get("escalation_delay_in_minutes") or 30), targets))
    team = _ref((p.get("teams") or [None])[0])
    return org.Policy(
        p["id"], p.get("name") or p["id"], team, rules, repeat=min(int(p.get("num_loops") or 0), 9)
    )


def rendered(
    client, schedule_id: str, since: datetime, until: datetime, emails: dict[str, str]
) -> list[org.RenderedShift]:
    """PagerDuty's own final schedule (``final_schedule.rendered_schedule_entries``)."""
    s = (
        client.get(
            f"schedules/{schedule_id}",
            {"since": since.isoformat(), "until": until.isoformat(), "time_zone": "UTC"},
        ).get("schedule")
        or {}
    )
    if not isinstance(s.get("final_schedule"), dict):
        raise Malformed("no final_schedule in the answer (an export without it cannot be verified)")
    out = []
    for e in s["final_schedule"].get("rendered_schedule_entries") or []:
        user = e.get("user") or {}
        email = user.get("email") or emails.get(user.get("id")) or user.get("id", "")
        out.append(
            org.RenderedShift(aware(e["start"]).astimezone(UTC), aware(e["end"]).astimezone(UTC), email)
        )
    return out
