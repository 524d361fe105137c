"""The plan (what an import would do, object by object, with the reason) and its execution.

``plan(org, actor=, options)`` changes nothing: it matches each source object to what already
exists (first by the ``SourceLink`` a previous run left, then users by e-mail and teams by
name) and says ``create``, ``update``, ``skip`` (already as the source has it) or
``cannot map`` (why). ``apply(org, rows, actor=)`` executes it one object group at a time
(users, teams, schedules, policies, services, integrations), each group in one transaction:
a group that fails is rolled back whole and reported; later groups go on with what exists.

Every write goes through the owning app's service (accounts, catalog, oncall, alerts): this
module decides nothing those services decide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.text import slugify

from accounts import services as account_services
from catalog import services as catalog_services
from catalog.models import Service, Team
from importers import org as o
from importers.models import SourceLink
from oncall import services as oncall_services
from oncall.models import EscalationPolicy, Override, Schedule, ServicePolicy
from opsportal.errors import ServiceError

GROUPS = ("user", "team", "schedule", "policy", "service", "integration")
PLURAL = {"user": "people", "team": "teams", "schedule": "schedules", "policy": "escalation policies",
          "service": "services", "integration": "integrations"}  # fmt: skip
CREATE, UPDATE, SKIP, CANNOT = "create", "update", "skip", "cannot map"

ALERT_KINDS = {
    # PagerDuty integration types
    "events_api_v2_inbound_integration": "pagerduty",
    "generic_events_api_inbound_integration": "pagerduty",
    "generic_email_inbound_integration": "email",
    # Opsgenie integration types
    "API": "generic",
    "Prometheus": "alertmanager",
    "Email": "email",
    "Grafana": "grafana",
    # Grafana OnCall integration types
    "alertmanager": "alertmanager",
    "grafana_alerting": "grafana",
    "grafana": "grafana",
    "webhook": "generic",
    "formatted_webhook": "generic",
}


def fingerprint(obj) -> str:
    data = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _links(source: str) -> dict[tuple[str, str], SourceLink]:
    return {(link.kind, link.source_id): link for link in SourceLink.objects.filter(source=source)}


def _linked(model, link: SourceLink | None):
    if link is None:
        return None
    return model.objects.filter(pk=link.object_id).first()


def _row(group, source_id, name, action, reason="", **extra) -> dict:
    return {"group": group, "source_id": source_id, "name": name, "action": action, "reason": reason, **extra}


def _alerts_installed() -> bool:
    return apps.is_installed("alerts")


# --- the plan -------------------------------------------------------------------------------


def plan(org: o.Org, *, create_missing_users: bool = False) -> list[dict]:
    links = _links(org.source)
    users_by_email = {
        u.email.lower(): u for u in get_user_model().objects.filter(email__isnull=False).exclude(email="")
    }
    rows: list[dict] = []
    known_users: set[str] = set()
    for u in org.users:
        link = links.get(("user", u.id))
        existing = _linked(get_user_model(), link) or users_by_email.get(u.email.lower())
        if existing is not None:
            known_users.add(u.id)
            action = SKIP if link else UPDATE
            reason = "matched by e-mail" if not link else "linked by an earlier run"
            rows.append(_row("user", u.id, u.email, action, reason, target=existing.pk))
        elif create_missing_users:
            known_users.add(u.id)
            rows.append(_row("user", u.id, u.email, CREATE, "not in Ops Portal: created inactive"))
        else:
            rows.append(
                _row(
                    "user",
                    u.id,
                    u.email,
                    CANNOT,
                    "no Ops Portal account with this e-mail (create it, or re-run "
                    "with missing users created inactive)",
                )
            )
    teams_by_name = {t.name.lower(): t for t in Team.objects.all()}
    for t in org.teams:
        link = links.get(("team", t.id))
        existing = _linked(Team, link) or teams_by_name.get(t.name.lower())
        rows.append(_diff_row("team", t, t.name, link, existing))
    schedule_ids = {s.id for s in org.schedules}
    mapped_schedules: set[str] = set()
    for s in org.schedules:
        if s.unmappable:
            rows.append(_row("schedule", s.id, s.name, CANNOT, s.unmappable))
            continue
        missing = sorted({uid for layer in s.layers for uid in layer.user_ids} - known_users)
        missing += sorted({ov.user_id for ov in s.overrides} - known_users - set(missing))
        if missing:
            rows.append(
                _row(
                    "schedule",
                    s.id,
                    s.name,
                    CANNOT,
                    f"people not in Ops Portal: {', '.join(_emails(org, missing))}",
                )
            )
            continue
        mapped_schedules.add(s.id)
        link = links.get(("schedule", s.id))
        row = _diff_row("schedule", s, s.name, link, _linked(Schedule, link))
        notes = list(s.notes) + [n for layer in s.layers for n in layer.notes]
        if notes and row["action"] != SKIP:
            row["reason"] = "; ".join(filter(None, [row["reason"], *notes]))
        rows.append(row)
    mapped_policies: set[str] = set()
    for p in org.policies:
        if p.unmappable:
            rows.append(_row("policy", p.id, p.name, CANNOT, p.unmappable))
            continue
        lost = [
            t for r in p.rules for t in r.targets
            if (t.kind == "schedule" and t.id not in mapped_schedules) or (t.kind == "user" and t.id not in known_users)
        ]  # fmt: skip
        if not p.rules:
            rows.append(_row("policy", p.id, p.name, CANNOT, "no escalation rules"))
            continue
        link = links.get(("policy", p.id))
        row = _diff_row("policy", p, p.name, link, _linked(EscalationPolicy, link))
        if lost:
            what = ", ".join(
                f"{t.kind} {t.id}" + ("" if t.id in schedule_ids or t.kind == "user" else " (unknown)")
                for t in lost
            )
            row["reason"] = "; ".join(
                filter(None, [row["reason"], f"targets left out (not imported): {what}"])
            )
        if all(all(t in lost for t in r.targets) for r in p.rules):
            row = _row("policy", p.id, p.name, CANNOT, f"every target is missing: {row['reason']}")
        rows.append(row)
        if row["action"] != CANNOT:
            mapped_policies.add(p.id)
    services_by_name = {s.name.lower(): s for s in Service.objects.all()}
    for s in org.services:
        link = links.get(("service", s.id))
        existing = _linked(Service, link) or services_by_name.get(s.name.lower())
        row = _diff_row("service", s, s.name, link, existing)
        if s.policy_id and s.policy_id not in mapped_policies:
            row["reason"] = "; ".join(
                filter(
                    None,
                    [
                        row["reason"],
                        "its escalation policy is not imported: the owner team's default applies",
                    ],
                )
            )
        rows.append(row)
    for i in org.integrations:
        kind = ALERT_KINDS.get(i.kind)
        link = links.get(("integration", i.id))
        if not _alerts_installed():
            rows.append(
                _row(
                    "integration",
                    i.id,
                    i.name,
                    CANNOT,
                    "not carried over: alert ingestion is not installed in this Ops Portal; repoint the sender by hand",
                )
            )
        elif kind is None:
            rows.append(
                _row(
                    "integration",
                    i.id,
                    i.name,
                    CANNOT,
                    f"not carried over: no Ops Portal integration kind for {i.kind!r}",
                )
            )
        elif not i.service_id:
            rows.append(
                _row(
                    "integration",
                    i.id,
                    i.name,
                    CANNOT,
                    "not carried over: it belongs to no service in the source",
                )
            )
        elif link is not None:
            rows.append(_row("integration", i.id, i.name, SKIP, "imported by an earlier run"))
        else:
            rows.append(
                _row(
                    "integration",
                    i.id,
                    i.name,
                    CREATE,
                    f"new {kind} integration; its new URL is listed after apply",
                )
            )
    for problem in org.problems:
        rows.append(_row("source", "", "", CANNOT, problem))
    return rows


def _emails(org: o.Org, ids: list[str]) -> list[str]:
    by_id = {u.id: u.email for u in org.users}
    return [by_id.get(i, i) for i in ids]


def _diff_row(group: str, obj, name: str, link: SourceLink | None, existing) -> dict:
    fp = fingerprint(obj)
    if existing is None:
        return _row(group, obj.id, name, CREATE, "", fingerprint=fp)
    if link is not None and link.fingerprint == fp:
        return _row(
            group, obj.id, name, SKIP, "unchanged since the last run", target=existing.pk, fingerprint=fp
        )
    reason = (
        "changed in the source since the last run"
        if link
        else "an object with this name exists: it is updated and linked"
    )
    return _row(group, obj.id, name, UPDATE, reason, target=existing.pk, fingerprint=fp)


# --- applying it ------------------------------------------------------------------------------


class _Context:
    def __init__(self, org: o.Org, actor) -> None:
        self.org = org
        self.actor = actor
        self.links = _links(org.source)
        self.report: list[str] = []
        self.new_urls: list[dict] = []

    def obj(self, kind: str, source_id: str | None, model):
        if not source_id:
            return None
        link = self.links.get((kind, source_id))
        return _linked(model, link)

    def link(self, kind: str, source_id: str, obj, fp: str = "") -> None:
        row, _ = SourceLink.objects.update_or_create(
            source=self.org.source,
            kind=kind,
            source_id=source_id,
            defaults={
                "content_type": ContentType.objects.get_for_model(obj),
                "object_id": str(obj.pk),
                "fingerprint": fp,
            },
        )
        self.links[(kind, source_id)] = row

    def fallback_team(self) -> Team:
        name = f"Imported from {self.org.source}"
        team = Team.objects.filter(name=name).first()
        return team or catalog_services.save_team(
            name=name, slug=slugify(name), description="Objects without a team in the source."
        )


def apply(
    org: o.Org, rows: list[dict], *, actor, progress: Callable[[str, int], None] = lambda *a: None
) -> tuple[list[str], list[dict]]:
    """Execute the plan's create/update rows; returns (report lines, new integration URLs)."""
    ctx = _Context(org, actor)
    wanted = {(r["group"], r["source_id"]): r for r in rows if r["action"] in (CREATE, UPDATE)}
    handlers = {
        "user": (org.users, _apply_user),
        "team": (org.teams, _apply_team),
        "schedule": (org.schedules, _apply_schedule),
        "policy": (org.policies, _apply_policy),
        "service": (org.services, _apply_service),
        "integration": (org.integrations, _apply_integration),
    }
    for n, group in enumerate(GROUPS):
        items, handler = handlers[group]
        todo = [(item, wanted[(group, item.id)]) for item in items if (group, item.id) in wanted]
        progress(f"applying {group}s ({len(todo)})", int(100 * n / len(GROUPS)))
        if not todo:
            continue
        try:
            with transaction.atomic():
                for item, row in todo:
                    try:
                        handler(ctx, item, row)
                    except ServiceError as exc:
                        raise _GroupFailed(f"{group} {row['name']}: {exc.message}") from None
        except _GroupFailed as exc:
            ctx.links = _links(org.source)  # the rolled-back links are gone
            ctx.report.append(
                f"{PLURAL[group]} not applied (rolled back, nothing of this group was kept): {exc}"
            )
        else:
            ctx.report.append(f"{PLURAL[group]} applied: {len(todo)}")
    progress("applied", 100)
    return ctx.report, ctx.new_urls


class _GroupFailed(Exception):
    pass


def _apply_user(ctx: _Context, u: o.User, row: dict) -> None:
    User = get_user_model()
    if row["action"] == UPDATE:
        user = User.objects.get(pk=row["target"])
    else:
        base = slugify(u.email.split("@")[0]) or "imported"
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}{n}"
        first, _, last = (u.name or "").partition(" ")
        fields = {"email": u.email, "first_name": first[:150], "last_name": last[:150], "is_active": False}
        if u.time_zone:
            fields["time_zone"] = u.time_zone
        user = account_services.create_user(actor=ctx.actor, username=username, **fields)
    ctx.link("user", u.id, user)


def _user(ctx: _Context, source_id: str):
    return ctx.obj("user", source_id, get_user_model())


def _apply_team(ctx: _Context, t: o.Team, row: dict) -> None:
    existing = Team.objects.get(pk=row["target"]) if row.get("target") else None
    members = [m for m in (_user(ctx, uid) for uid in t.member_ids) if m is not None]
    fields = {"name": t.name, "description": t.description}
    if existing is None:
        slug, n = slugify(t.name)[:90] or "team", 1
        while Team.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{slugify(t.name)[:90]}-{n}"
        fields["slug"] = slug
    team = catalog_services.save_team(team=existing, members=members, **fields)
    ctx.link("team", t.id, team, row.get("fingerprint", ""))


def _apply_schedule(ctx: _Context, s: o.Schedule, row: dict) -> None:
    existing = Schedule.objects.get(pk=row["target"]) if row.get("target") else None
    team = ctx.obj("team", s.team_id, Team) or ctx.fallback_team()
    layers = []
    for position, layer in enumerate(s.layers, start=1):
        layers.append({
            "name": layer.name[:100], "position": position, "rotation_unit": layer.unit,
            "rotation_length": layer.length, "start_date": layer.start.date(),
            "handoff_time": layer.start.time(), "end_at": layer.end,
            "participants": [_user(ctx, uid) for uid in layer.user_ids],
            "restrictions": [{"weekdays": r.weekdays, "start_time": r.start, "end_time": r.end} for r in layer.restrictions],
        })  # fmt: skip
    schedule = oncall_services.save_schedule_definition(
        schedule=existing, layers=layers, actor=ctx.actor, team=team, name=s.name[:100], time_zone=s.time_zone
    )
    for ov in s.overrides:
        key = f"{s.id}:{ov.user_id}:{ov.start.isoformat()}:{ov.end.isoformat()}"
        if ("override", key) in ctx.links and _linked(Override, ctx.links[("override", key)]):
            continue
        override = oncall_services.create_override(
            schedule=schedule, user=_user(ctx, ov.user_id), start=ov.start, end=ov.end,
            reason=f"imported from {ctx.org.source}", actor=ctx.actor,
        )  # fmt: skip
        ctx.link("override", key, override)
    ctx.link("schedule", s.id, schedule, row.get("fingerprint", ""))


def _apply_policy(ctx: _Context, p: o.Policy, row: dict) -> None:
    existing = EscalationPolicy.objects.get(pk=row["target"]) if row.get("target") else None
    team = ctx.obj("team", p.team_id, Team) or ctx.fallback_team()
    levels = []
    for rule in p.rules:
        schedules = [
            x
            for x in (ctx.obj("schedule", t.id, Schedule) for t in rule.targets if t.kind == "schedule")
            if x
        ]
        users = [x for x in (_user(ctx, t.id) for t in rule.targets if t.kind == "user") if x]
        if schedules or users:
            levels.append(
                {"delay_minutes": max(1, rule.delay_minutes), "schedules": schedules, "users": users}
            )
    policy = oncall_services.save_policy(
        policy=existing, levels=levels, actor=ctx.actor, team=team, name=p.name[:100], repeat=min(p.repeat, 9)
    )
    ctx.link("policy", p.id, policy, row.get("fingerprint", ""))


def _apply_service(ctx: _Context, s: o.Service, row: dict) -> None:
    existing = Service.objects.get(pk=row["target"]) if row.get("target") else None
    team = ctx.obj("team", s.team_id, Team) or ctx.fallback_team()
    fields = {"name": s.name[:100], "description": s.description, "owner_team": team}
    if existing is None:
        slug, n = slugify(s.name)[:90] or "service", 1
        while Service.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{slugify(s.name)[:90]}-{n}"
        fields["slug"] = slug
    service = catalog_services.save_service(service=existing, **fields)
    policy = ctx.obj("policy", s.policy_id, EscalationPolicy)
    if policy is not None:
        current = ServicePolicy.objects.filter(service=service).first()
        if current is None or current.policy_id != policy.pk:
            oncall_services.save_service_policy(
                service_policy=current, actor=ctx.actor, service=service, policy=policy
            )
    ctx.link("service", s.id, service, row.get("fingerprint", ""))


def _apply_integration(ctx: _Context, i: o.Integration, row: dict) -> None:
    from alerts.services import (
        integrations as alert_services,
    )  # installed: the plan checks (_alerts_installed)

    service = ctx.obj("service", i.service_id, Service)
    if service is None:
        raise ServiceError(f"its service {i.service_id} was not imported")
    kind = ALERT_KINDS[i.kind]
    integration, key = alert_services.create_integration(
        actor=ctx.actor, service=service, name=i.name[:100], kind=kind
    )
    ctx.link("integration", i.id, integration)
    ctx.new_urls.append(
        {"name": i.name, "service": service.name, "url": alert_services.ingest_url(key, kind)}
    )


def summary(rows: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["group"], {}).setdefault(r["action"], 0)
        out[r["group"]][r["action"]] += 1
    return out
