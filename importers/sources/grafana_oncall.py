"""Grafana OnCall HTTP API v1 reader.

Written from Grafana's OnCall API reference (grafana.com/docs/oncall/latest/oncall-api-reference/):
Users (``GET /api/v1/users/``), Teams (``GET /api/v1/teams/``), Schedules
(``GET /api/v1/schedules/``; Export final shifts ``GET /api/v1/schedules/{id}/final_shifts``
with ``start_date``/``end_date``), OnCall shifts (``GET /api/v1/on_call_shifts/``), Escalation
chains and escalation policies (``GET /api/v1/escalation_chains/``,
``GET /api/v1/escalation_policies/``), Integrations (``GET /api/v1/integrations/``).
Pagination: ``next`` URL in each page. Authentication: ``Authorization: <key>``.

Shifts: a ``rolling_users`` shift is a layer (its ``level`` is the priority); an ``override``
shift is an override; ``single_event``/``recurrent_event`` shifts and iCal schedules are
reported as not mappable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from importers import org
from importers.sources.common import Malformed, aware, merge_days, window, zone

BASE_URL = ""  # every instance has its own address: give it
UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
PERIOD = {"hours": 3600, "days": 86400, "weeks": 7 * 86400}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": key}


def _pages(client, path: str, params: dict | None = None) -> list[dict]:
    out: list[dict] = []
    body = client.get(path, params)
    while True:
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise Malformed(f"GET {path}: no results list in the answer")
        out.extend(r for r in results if isinstance(r, dict))
        if not body.get("next"):
            return out
        body = client.get(body["next"])


def read(client, *, since: datetime, until: datetime) -> org.Org:
    o = org.Org(source="grafana-oncall")
    members: dict[str, list[str]] = {}
    for u in _pages(client, "api/v1/users/"):
        if not u.get("id") or not u.get("email"):
            o.problems.append(f"user {u.get('id') or '?'}: no id or e-mail, skipped")
            continue
        o.users.append(
            org.User(u["id"], u["email"], u.get("name") or u.get("username", ""), u.get("timezone") or "")
        )
        for team in u.get("teams") or []:
            members.setdefault(team, []).append(u["id"])
    for t in _pages(client, "api/v1/teams/"):
        o.teams.append(org.Team(t["id"], t.get("name") or t["id"], members.get(t["id"], [])))
    shifts = {s["id"]: s for s in _pages(client, "api/v1/on_call_shifts/") if s.get("id")}
    for s in _pages(client, "api/v1/schedules/"):
        try:
            o.schedules.append(_schedule(s, shifts, since, until))
        except Malformed as exc:
            o.problems.append(f"schedule {s.get('name') or s.get('id')}: {exc}; skipped")
    steps: dict[str, list[dict]] = {}
    for p in _pages(client, "api/v1/escalation_policies/"):
        steps.setdefault(p.get("escalation_chain_id"), []).append(p)
    for c in _pages(client, "api/v1/escalation_chains/"):
        o.policies.append(_chain(c, sorted(steps.get(c["id"], []), key=lambda p: p.get("position", 0))))
    for i in _pages(client, "api/v1/integrations/"):
        o.integrations.append(
            org.Integration(i["id"], i.get("name") or i["id"], i.get("type", ""), None, i.get("team_id"))
        )
    return o


def _schedule(s: dict, shifts: dict[str, dict], since: datetime, until: datetime) -> org.Schedule:
    tz = s.get("time_zone") or "UTC"
    z = zone(tz)
    out = org.Schedule(s["id"], s.get("name") or s["id"], tz, s.get("team_id"))
    if s.get("type") == "ical" or s.get("ical_url_primary"):
        out.unmappable = "an iCal schedule (its shifts live in an external calendar): re-create it as layers"
        return out
    layers = []
    for shift_id in s.get("shifts") or []:
        sh = shifts.get(shift_id)
        if sh is None:
            raise Malformed(f"shift {shift_id} not found")
        if sh.get("type") == "override":
            start = aware(sh["start"])
            users = sh.get("rolling_users") or [[]]
            for who in users[0] if users else []:
                out.overrides.append(org.Override(who, start, start + timedelta(seconds=int(sh["duration"]))))
            continue
        if sh.get("type") != "rolling_users":
            out.unmappable = (
                f"shift {sh.get('name') or shift_id} of type {sh.get('type')}: not expressible as a rotation"
            )
            return out
        unit = UNITS.get(sh.get("frequency"))
        if unit is None:
            out.unmappable = (
                f"shift {sh.get('name')}: frequency {sh.get('frequency')!r} has no Ops Portal rotation"
            )
            return out
        groups = sh.get("rolling_users") or []
        if any(len(g) != 1 for g in groups) or not groups:
            out.unmappable = (
                f"shift {sh.get('name')}: several people per turn; Ops Portal has one person on call"
            )
            return out
        shift_zone = zone(sh.get("time_zone") or tz)
        start = (
            aware(sh["start"])
            if "+" in sh["start"][10:] or sh["start"].endswith("Z")
            else datetime.fromisoformat(sh["start"]).replace(tzinfo=shift_zone)
        )
        local = start.astimezone(z).replace(tzinfo=None)
        length = int(sh.get("interval") or 1)
        period = PERIOD[unit] * length
        duration = int(sh.get("duration") or period)
        layer = org.Layer(sh.get("name") or shift_id, local, unit, length, [g[0] for g in groups],
                          end=aware(sh["until"]) if sh.get("until") else None)  # fmt: skip
        days = [DAYS.index(d) for d in sh.get("by_day") or []]
        if duration < period or days:
            if duration > 86400:
                out.unmappable = f"shift {sh.get('name')}: a restricted turn longer than a day"
                return out
            rs = []
            for day in days or range(7):
                rs.extend(window(day, local.time(), duration))
            layer.restrictions = merge_days(rs)
        layers.append((int(sh.get("level") or 0), layer))
    out.layers = [layer for _, layer in sorted(layers, key=lambda x: x[0])]  # higher level on top
    return out


def _chain(c: dict, steps: list[dict]) -> org.Policy:
    rules: list[org.Rule] = []
    pending: list[org.Target] = []
    notes = []
    for st in steps:
        kind = st.get("type")
        if kind == "wait":
            if pending:
                rules.append(org.Rule(max(1, int(st.get("duration") or 60) // 60), pending))
                pending = []
            elif rules:
                rules[-1].delay_minutes += max(1, int(st.get("duration") or 60) // 60)
        elif kind in ("notify_persons", "notify_person_next_each_time"):
            pending += [org.Target("user", u) for u in st.get("persons_to_notify") or []]
        elif kind == "notify_on_call_from_schedule":
            pending.append(org.Target("schedule", st.get("notify_on_call_from_schedule")))
        else:
            notes.append(f"step {kind} not carried over")
    if pending:
        rules.append(org.Rule(15, pending))
    return org.Policy(c["id"], c.get("name") or c["id"], c.get("team_id"), rules, notes=notes)


def rendered(
    client, schedule_id: str, since: datetime, until: datetime, emails: dict[str, str]
) -> list[org.RenderedShift]:
    """OnCall's own final shifts (``final_shifts``), whole days covering the window."""
    params = {
        "start_date": since.astimezone(UTC).date().isoformat(),
        "end_date": until.astimezone(UTC).date().isoformat(),
    }
    out = []
    for e in _pages(client, f"api/v1/schedules/{schedule_id}/final_shifts", params):
        who = e.get("user_email") or emails.get(e.get("user_pk"), "")
        out.append(
            org.RenderedShift(
                aware(e["shift_start"]).astimezone(UTC), aware(e["shift_end"]).astimezone(UTC), who
            )
        )
    return out
