"""Reads over the register: lists, cycle history, gaps, and the published operating model."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone

from accounts.roles import RELEASE_LEADS
from catalog.models import Service, Team
from escalations.models import Impact, SupportSettings
from escalations.services import PAGING_IMPACTS
from incidents.models import Severity
from oncall import selectors as oncall_selectors
from oncall.models import EscalationLevel, EscalationPolicy, LayerMember, RotationLayer, Schedule
from operations import cadence as engine
from operations.models import CheckIn, Health, Responsibility
from readiness import checks as readiness_checks
from readiness import conf as readiness_conf
from readiness.models import RISK_ORDER, ReadinessTemplate, Risk, TemplateItem

DEFAULT_BUS_FACTOR_LIMIT = 3


def bus_factor_limit() -> int:
    """A person owning more than this many active duties is a bus-factor gap."""
    return int(getattr(settings, "OPERATIONS_BUS_FACTOR_LIMIT", DEFAULT_BUS_FACTOR_LIMIT))


def with_last_check_in(qs):
    """Annotate last_done_at / last_done_by_id from the newest check-in (one correlated
    subquery each, served by the (responsibility, -done_at) index): no join fan-out."""
    newest = CheckIn.objects.filter(responsibility=OuterRef("pk")).order_by("-done_at")
    return qs.annotate(
        last_done_at=Subquery(newest.values("done_at")[:1]),
        last_done_by_id=Subquery(newest.values("done_by_id")[:1]),
    )


def responsibilities():
    return with_last_check_in(
        Responsibility.objects.select_related("team", "team__manager", "owner", "backup")
    ).order_by("team__name", "title")


def cycle_history(
    resp: Responsibility, *, now: datetime | None = None, limit: int = 12
) -> list[engine.Cycle]:
    """The duty's latest cycles, newest first (two queries: the duty is given, the check-ins)."""
    now = now or timezone.now()
    sched = resp.schedule()
    oldest = resp.tracking_since
    entries = CheckIn.objects.filter(responsibility=resp, covers_due_at__gte=oldest).select_related("done_by")
    covered = {c.covers_due_at: (c.late, c) for c in entries.order_by("-covers_due_at")[: limit + 1]}
    return engine.history(
        sched, covered=covered, pending=resp.next_due_at, since=oldest, now=now, limit=limit
    )


def overdue_cycles(resp: Responsibility, now: datetime) -> int:
    """Due points passed and not done yet (0 when on track)."""
    if now <= resp.next_due_at:
        return 0
    return resp.schedule().count(resp.next_due_at, now + timedelta(microseconds=1))


# --- gaps -----------------------------------------------------------------------------------
@dataclass
class Gap:
    kind: str  # unowned | departed_owner | departed_backup | no_backup | bus_factor | no_on_call
    message: str
    team: Team | None = None
    responsibility: Responsibility | None = None
    person: object = None

    @property
    def label(self) -> str:
        return GAP_LABELS[self.kind]


GAP_LABELS = {
    "unowned": "No owner",
    "departed_owner": "Owner left the team or is inactive",
    "departed_backup": "Backup left the team or is inactive",
    "bus_factor": "Bus factor",
    "no_on_call": "Services but no on-call schedule",
}


def _member_ids(teams) -> dict[int, set[int]]:
    through = Team.members.through
    ids: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in through.objects.filter(team__in=teams).values_list("team_id", "user_id"):
        ids[team_id].add(user_id)
    return ids


def gaps(*, duties: list[Responsibility] | None = None, teams: list[Team] | None = None) -> list[Gap]:
    """Everything the operating model does not cover: duties without a (current) owner or
    backup, one person owning too many duties, teams running services without on-call."""
    if duties is None:
        duties = list(
            Responsibility.objects.active().select_related("team", "team__manager", "owner", "backup")
        )
    if teams is None:
        teams = list(Team.objects.order_by("name"))
    members = _member_ids(teams)
    found: list[Gap] = []
    owned_by: dict[int, list[Responsibility]] = defaultdict(list)
    people: dict[int, object] = {}
    for duty in duties:
        team_members = members.get(duty.team_id, set())
        if duty.owner_id is None:
            found.append(Gap("unowned", f"{duty.title} has no owner.", duty.team, duty))
        elif not duty.owner.is_active:
            found.append(
                Gap(
                    "departed_owner",
                    f"{duty.title}: owner {duty.owner} is deactivated.",
                    duty.team,
                    duty,
                    duty.owner,
                )
            )
        elif duty.owner_id not in team_members:
            found.append(
                Gap(
                    "departed_owner",
                    f"{duty.title}: owner {duty.owner} is no longer in {duty.team}.",
                    duty.team,
                    duty,
                    duty.owner,
                )
            )
        if duty.backup_id is not None and (not duty.backup.is_active or duty.backup_id not in team_members):
            why = "is deactivated" if not duty.backup.is_active else f"is no longer in {duty.team}"
            found.append(
                Gap(
                    "departed_backup",
                    f"{duty.title}: backup {duty.backup} {why}.",
                    duty.team,
                    duty,
                    duty.backup,
                )
            )
        if duty.owner_id is not None and duty.owner.is_active:
            owned_by[duty.owner_id].append(duty)
            people[duty.owner_id] = duty.owner
    limit = bus_factor_limit()
    for person_id, owned in sorted(owned_by.items(), key=lambda kv: (-len(kv[1]), str(people[kv[0]]))):
        if len(owned) > limit:
            alone = sum(1 for d in owned if d.backup_id is None)
            found.append(
                Gap(
                    "bus_factor",
                    f"{people[person_id]} owns {len(owned)} duties (limit {limit}), "
                    f"{alone} of them without a backup.",
                    person=people[person_id],
                )
            )
    with_services = set(Service.objects.values_list("owner_team_id", flat=True).distinct())
    with_schedule = set(Schedule.objects.values_list("team_id", flat=True).distinct())
    for team in teams:
        if team.pk in with_services and team.pk not in with_schedule:
            found.append(Gap("no_on_call", f"{team} owns services but has no on-call schedule.", team))
    return found


# --- the published operating model ----------------------------------------------------------
@dataclass
class DutyRow:
    duty: Responsibility
    health: str
    overdue_cycles: int

    @property
    def health_label(self) -> str:
        return Health(self.health).label


@dataclass
class TeamSection:
    team: Team
    duties: list[DutyRow] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    policies: list[EscalationPolicy] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    on_call: dict = field(default_factory=dict)  # schedule id -> oncall.selectors.OnCall


# --- the release process (readiness) --------------------------------------------------------
# The manager sign-off setting -> the lowest risk at which owning teams' managers sign
# (mirrors readiness.services.required_slots).
_MANAGER_THRESHOLD = {
    ReadinessTemplate.ManagerSignoff.ALWAYS: 0,
    ReadinessTemplate.ManagerSignoff.MEDIUM: 1,
    ReadinessTemplate.ManagerSignoff.HIGH: 2,
}


@dataclass
class ChecklistItem:
    item: TemplateItem
    requirement: str  # "required" | "required for high risk" | "optional"
    check_title: str  # the automatic check evaluated from live data, "" when marked by hand


@dataclass
class TemplateSection:
    template: ReadinessTemplate
    risks: list[str]  # labels of the risk levels a new review picks this template for
    items: list[ChecklistItem]
    signers: list[str]


@dataclass
class ReleaseProcess:
    templates: list[TemplateSection]
    release_leads: list
    uncovered_risks: list[str]  # risk labels no template covers (no default template)
    gate_enforces_window: bool  # READINESS_GATE_ENFORCE_WINDOW: no-go outside the deploy window


def _template_for_risk(templates: list[ReadinessTemplate], risk: str) -> ReadinessTemplate | None:
    """The template a review of this risk starts with (readiness.services.template_for, in
    Python over the loaded templates: the one naming the risk first, else the default)."""
    for t in templates:
        if risk in (t.risk_levels or []):
            return t
    return next((t for t in templates if t.is_default), None)


def _signers(template: ReadinessTemplate, risks: list[str]) -> list[str]:
    signers = []
    if template.require_release_lead:
        signers.append("a release lead (member of Release leads)")
    threshold = _MANAGER_THRESHOLD.get(template.manager_signoff)
    if threshold is not None:
        signing = [Risk(r).label.lower() for r in risks if RISK_ORDER[r] >= threshold]
        if signing:
            signers.append(
                "the engineering manager of every team owning a service in the release"
                + ("" if len(signing) == len(risks) else f" ({' and '.join(signing)} risk)")
            )
    return signers


def release_process() -> ReleaseProcess:
    """Readiness templates with their ordered items and signers, and the release leads
    (two queries for the templates and items, one for the release leads)."""
    templates = list(
        ReadinessTemplate.objects.order_by("name").prefetch_related(
            Prefetch("items", queryset=TemplateItem.objects.order_by("position", "pk"))
        )
    )
    used_for: dict[int, list[str]] = defaultdict(list)
    uncovered = []
    for risk in Risk.values:
        chosen = _template_for_risk(templates, risk)
        if chosen is None:
            uncovered.append(Risk(risk).label)
        else:
            used_for[chosen.pk].append(risk)
    sections = []
    for template in sorted(templates, key=lambda t: (not used_for[t.pk], not t.is_default, t.name)):
        risks = used_for[template.pk]
        items = []
        for item in template.items.all():
            if item.required:
                requirement = "required"
            elif item.required_for_high_risk:
                requirement = "required for high risk"
            else:
                requirement = "optional"
            check = readiness_checks.REGISTRY.get(item.check_key) if item.check_key else None
            title = check.title if check else (f"unknown check {item.check_key}" if item.check_key else "")
            items.append(ChecklistItem(item, requirement, title))
        sections.append(
            TemplateSection(
                template=template,
                risks=[Risk(r).label for r in risks],
                items=items,
                signers=_signers(template, risks),
            )
        )
    leads = list(
        get_user_model()
        .objects.filter(groups__name=RELEASE_LEADS, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    return ReleaseProcess(
        templates=sections,
        release_leads=leads,
        uncovered_risks=uncovered,
        gate_enforces_window=readiness_conf.enforce_window(),
    )


# --- the support escalation path (escalations) ----------------------------------------------
@dataclass
class ImpactSla:
    impact: str
    label: str
    sla: str
    pages: bool  # blocked/degraded page on-call at once; a question tells the team


@dataclass
class ServiceRoute:
    service: Service
    policy: EscalationPolicy | None
    via: str  # "service policy" | "team default" | "support triage" | "nobody"


@dataclass
class SupportPath:
    settings: SupportSettings
    slas: list[ImpactSla]
    routes: list[ServiceRoute]


def support_path(default_policies: dict[int, EscalationPolicy]) -> SupportPath:
    """SLAs, surge detection and routing from the live support settings. ``default_policies``
    maps team id -> its default escalation policy (already loaded with the teams). Routing
    mirrors escalations.services.route / oncall.selectors.policy_for_service for every service
    at once: two queries whatever the number of services."""
    config = (
        SupportSettings.objects.select_related("triage_policy__team")
        .filter(pk=SupportSettings.SINGLETON)
        .first()
    ) or SupportSettings(pk=SupportSettings.SINGLETON)  # never written by a read: the defaults
    slas = [
        ImpactSla(value, label.split(" - ")[0], config.sla_display(value), value in PAGING_IMPACTS)
        for value, label in Impact.choices
    ]
    routes = []
    services = Service.objects.select_related("owner_team", "escalation__policy").order_by("name", "pk")
    for service in services:
        link = getattr(service, "escalation", None)
        if link is not None:
            routes.append(ServiceRoute(service, link.policy, "service policy"))
        elif service.owner_team_id in default_policies:
            routes.append(ServiceRoute(service, default_policies[service.owner_team_id], "team default"))
        elif config.triage_policy is not None:
            routes.append(ServiceRoute(service, config.triage_policy, "support triage"))
        else:
            routes.append(ServiceRoute(service, None, "nobody"))
    return SupportPath(settings=config, slas=slas, routes=routes)


@dataclass
class OperatingModel:
    generated_at: datetime
    severities: list[Severity]
    teams: list[TeamSection]
    gaps: list[Gap]  # organisation-wide (bus factor)
    health_counts: dict[str, int]
    bus_factor_limit: int
    release_process: ReleaseProcess
    support: SupportPath


def operating_model(*, now: datetime | None = None) -> OperatingModel:
    """The whole document from live data. A fixed number of queries whatever the size."""
    now = now or timezone.now()
    teams = list(
        Team.objects.select_related("manager")
        .prefetch_related(
            Prefetch(
                "schedules",
                queryset=Schedule.objects.order_by("name").prefetch_related(
                    Prefetch(
                        "layers",
                        queryset=RotationLayer.objects.order_by("position").prefetch_related(
                            Prefetch("members", queryset=LayerMember.objects.select_related("user"))
                        ),
                    )
                ),
            ),
            Prefetch(
                "escalation_policies",
                queryset=EscalationPolicy.objects.order_by("-is_team_default", "name").prefetch_related(
                    Prefetch(
                        "levels",
                        queryset=EscalationLevel.objects.order_by("position").prefetch_related(
                            "schedules", "users"
                        ),
                    )
                ),
            ),
        )
        .order_by("name")
    )
    duties = list(
        with_last_check_in(Responsibility.objects.active().select_related("team", "owner", "backup"))
    )
    duties.sort(key=lambda d: (d.title.lower(), d.pk))
    all_gaps = gaps(duties=duties, teams=teams)
    sections = {t.pk: TeamSection(team=t) for t in teams}
    counts = {h.value: 0 for h in Health}
    for duty in duties:
        health = duty.health_at(now)
        counts[health] += 1
        cycles = overdue_cycles(duty, now) if health == Health.OVERDUE else 0
        sections[duty.team_id].duties.append(DutyRow(duty, health, cycles))
    schedule_ids = []
    for section in sections.values():
        section.schedules = list(section.team.schedules.all())
        section.policies = list(section.team.escalation_policies.all())
        schedule_ids.extend(s.pk for s in section.schedules)
    on_call = oncall_selectors.on_call(schedule_ids, now) if schedule_ids else {}
    for section in sections.values():
        section.on_call = {s.pk: on_call.get(s.pk) for s in section.schedules}
        for schedule in section.schedules:
            schedule.on_call_now = section.on_call[schedule.pk]
    org_gaps = []
    for gap in all_gaps:
        if gap.team is not None and gap.team.pk in sections:
            sections[gap.team.pk].gaps.append(gap)
        else:
            org_gaps.append(gap)
    default_policies = {
        p.team_id: p for section in sections.values() for p in section.policies if p.is_team_default
    }
    return OperatingModel(
        generated_at=now,
        severities=list(Severity.objects.order_by("level")),
        teams=list(sections.values()),
        gaps=org_gaps,
        health_counts=counts,
        bus_factor_limit=bus_factor_limit(),
        release_process=release_process(),
        support=support_path(default_policies),
    )
