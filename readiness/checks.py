"""Automatic checks: a registry of functions evaluated from live data.

Each check takes the release, ``now`` and the review item it backs (for evidence) and returns
a list of reasons it fails - empty means pass. Reasons name the service, team or incident so a
release lead knows what to fix ("service billing-api has no active probe and no alert integration"). Checks read through
the lower layers' models and selectors only (layer 4 reads layers 0-3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alerts.selectors import services_with_integrations
from catalog.models import ServiceLink
from incidents.models import Incident
from oncall import rotation
from oncall import selectors as oncall_selectors
from oncall.models import Schedule
from probes.models import Probe
from readiness import conf, hooks
from readiness.models import Release, ReviewItem, Risk
from runbooks.models import Runbook
from slos import conf as slo_conf
from slos import selectors as slo_selectors

CheckFn = Callable[..., list[str]]


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    fn: CheckFn


REGISTRY: dict[str, Check] = {}


def register(key: str, title: str):
    def wrap(fn: CheckFn) -> CheckFn:
        REGISTRY[key] = Check(key, title, fn)
        return fn

    return wrap


def choices() -> list[tuple[str, str]]:
    return [(c.key, c.title) for c in REGISTRY.values()]


def run(key: str, release: Release, *, now: datetime, item: ReviewItem | None = None) -> list[str]:
    check = REGISTRY.get(key)
    if check is None:
        return [f"unknown automatic check {key!r}"]
    return check.fn(release, now=now, item=item)


def _services(release: Release):
    return sorted(release.services.select_related("owner_team__manager"), key=lambda s: s.slug)


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


@register("runbooks_fresh", "Runbooks exist and are reviewed for every service")
def runbooks_fresh(release: Release, *, now: datetime, item=None) -> list[str]:
    reasons = []
    services = _services(release)
    by_service: dict[int, list[Runbook]] = defaultdict(list)
    links = Runbook.services.through.objects.filter(service_id__in=[s.pk for s in services]).select_related(
        "runbook"
    )
    for link in links:
        by_service[link.service_id].append(link.runbook)
    for s in services:
        rbs = by_service.get(s.pk, [])
        if not rbs:
            reasons.append(f"service {s.slug} has no runbook")
        elif not any(rb.review_due_at > now for rb in rbs):
            oldest = min(rbs, key=lambda rb: rb.review_due_at)
            reasons.append(
                f"service {s.slug}: runbook '{oldest.title}' review overdue since {oldest.review_due_at:%Y-%m-%d}"
            )
    return reasons


@register("probe_coverage", "Every service has an active probe that links a runbook")
def probe_coverage(release: Release, *, now: datetime, item=None) -> list[str]:
    reasons = []
    services = _services(release)
    probes = defaultdict(list)
    for p in Probe.objects.filter(service__in=[s.pk for s in services]).exclude(state=Probe.State.PAUSED):
        probes[p.service_id].append(p)
    # An active alert integration (its monitoring sends alerts here) covers a service too.
    integrated = services_with_integrations(s.pk for s in services)
    for s in services:
        active = sorted(probes.get(s.pk, []), key=lambda p: p.name)
        if not active and s.pk not in integrated:
            reasons.append(f"service {s.slug} has no active probe and no alert integration")
        for p in active:
            if p.runbook_id is None:
                reasons.append(f"probe '{p.name}' on service {s.slug} links no runbook")
    return reasons


@register("rollback_tested", "Rollback tested recently, with evidence")
def rollback_tested(release: Release, *, now: datetime, item=None) -> list[str]:
    max_age = conf.rollback_test_max_age()
    real = hooks.last_real_rollback(release) if hooks.last_real_rollback else None
    if real is not None and now - max_age <= real[0] <= now and release.rollback_plan.strip():
        # A real rollback of one of its services is the best evidence there is (recorded
        # by a pipeline, not typed in): it passes without a test date.
        return []
    if release.rollback_tested_at is None:
        return ["rollback was never tested"]
    reasons = []
    if release.rollback_tested_at < now - max_age:
        reasons.append(
            f"rollback last tested {release.rollback_tested_at:%Y-%m-%d}, more than {max_age.days} days ago"
        )
    if release.rollback_tested_at > now:
        reasons.append("rollback test date is in the future")
    if not (release.rollback_evidence_url or release.rollback_evidence_note.strip()):
        reasons.append("rollback test has no evidence (link or note)")
    if not release.rollback_plan.strip():
        reasons.append("rollback plan is empty")
    return reasons


def team_gaps(team_ids, start: datetime, end: datetime) -> dict[int, list[tuple[datetime, datetime]]]:
    """team id -> stretches of [start, end) when none of the team's schedules has anyone on call
    (``None`` entry when the team has no schedule). Five queries for any number of teams."""
    schedules = dict(Schedule.objects.filter(team_id__in=team_ids).values_list("pk", "team_id"))
    specs = oncall_selectors.specs(list(schedules), start, end)
    shifts = defaultdict(list)
    for pk, spec in specs.items():
        shifts[schedules[pk]].extend(rotation.final_shifts(spec, start, end))
    out = {}
    for team_id in team_ids:
        if team_id not in set(schedules.values()):
            out[team_id] = None
        else:
            out[team_id] = rotation.gaps(shifts[team_id], start, end)
    return out


@register("oncall_coverage", "Owners named and on-call covered for the window plus 24 h")
def oncall_coverage(release: Release, *, now: datetime, item=None) -> list[str]:
    reasons = []
    teams = {s.owner_team.pk: s.owner_team for s in _services(release)}
    end = release.window_end + conf.coverage_after()
    for team_id, holes in team_gaps(list(teams), release.window_start, end).items():
        team = teams[team_id]
        if team.manager_id is None:
            reasons.append(f"team {team.name} has no engineering manager named")
        if holes is None:
            reasons.append(f"team {team.name} has no on-call schedule")
            continue
        for start, stop in holes[:3]:
            reasons.append(f"team {team.name} has no one on call {_fmt(start)} - {_fmt(stop)}")
        if len(holes) > 3:
            reasons.append(f"team {team.name} has {len(holes) - 3} more on-call gap(s)")
    return reasons


@register("no_major_incidents", "No open SEV-1/SEV-2 on the affected services (change freeze)")
def no_major_incidents(release: Release, *, now: datetime, item=None) -> list[str]:
    ids = [s.pk for s in _services(release)]
    open_major = (
        Incident.objects.open()
        .real()
        .filter(severity__level__lte=2, services__in=ids)
        .select_related("severity")
        .prefetch_related("services")
        .distinct()
        .order_by("number")
    )
    reasons = []
    for inc in open_major:
        names = ", ".join(sorted(s.slug for s in inc.services.all() if s.pk in ids))
        reasons.append(f"INC-{inc.number} ({inc.severity.label}) is open on {names}")
    return reasons


@register("monitoring_links", "Dashboards / monitoring links present for every service")
def monitoring_links(release: Release, *, now: datetime, item=None) -> list[str]:
    services = _services(release)
    with_dash = set(
        ServiceLink.objects.filter(
            service__in=[s.pk for s in services], kind=ServiceLink.Kind.DASHBOARD
        ).values_list("service_id", flat=True)
    )
    return [f"service {s.slug} has no dashboard link" for s in services if s.pk not in with_dash]


@register("rehearsal_done", "Tabletop / rehearsal done (required for high risk)")
def rehearsal_done(release: Release, *, now: datetime, item=None) -> list[str]:
    if release.risk != Risk.HIGH:
        return []
    if item is not None and item.has_evidence:
        return []
    ids = [s.pk for s in _services(release)]
    since = now - conf.rehearsal_max_age()
    drilled = set(
        Incident.services.through.objects.filter(
            service_id__in=ids, incident__drill=True, incident__started_at__gte=since
        ).values_list("service_id", flat=True)
    )
    missing = [s.slug for s in _services(release) if s.pk not in drilled]
    if not missing:
        return []
    return [
        f"high-risk release: no drill incident in the last {conf.rehearsal_max_age().days} days on "
        f"{', '.join(missing)} and no rehearsal evidence on the item"
    ]


def budget_figures(release: Release, *, now: datetime) -> list[dict]:
    """The error-budget figures of every active SLO on the release's services (the gate
    answer carries them): service, SLO, objective, window, SLI, budget remaining, 1 h burn."""
    ids = [s.pk for s in _services(release)]
    out = []
    for services_statuses in slo_selectors.for_services(ids, now=now).values():
        for st in services_statuses:
            out.append(
                {
                    "service": st.slo.service.slug,
                    "slo": st.slo.name,
                    "slo_id": st.slo.pk,
                    "objective": float(st.slo.objective),
                    "window": st.slo.window,
                    "sli": st.budget.sli,
                    "budget_remaining": st.budget.remaining,
                    "burn_rate_1h": None if st.burn_1h in (None, float("inf")) else st.burn_1h,
                    "good": st.budget.good,
                    "total": st.budget.total,
                }
            )
    return sorted(out, key=lambda f: (f["service"], f["slo"]))


@register("error_budget", "Error budget left on every service (SLOs)")
def error_budget(release: Release, *, now: datetime, item=None) -> list[str]:
    """Fails for each active SLO of the release's services whose budget is exhausted or below
    SLO_BUDGET_GATE_MIN_REMAINING (default 10 %). A service without SLOs, or an SLO without
    data yet, passes (no evidence of unreliability; the probe_coverage check covers coverage)."""
    minimum = slo_conf.gate_min_remaining()
    reasons = []
    ids = [s.pk for s in _services(release)]
    for statuses in slo_selectors.for_services(ids, now=now).values():
        for st in statuses:
            remaining = st.budget.remaining
            if remaining is None:
                continue
            if st.budget.exhausted or remaining < minimum:
                word = "exhausted" if st.budget.exhausted else f"below the {minimum * 100:g} % minimum"
                reasons.append(f"{slo_selectors.budget_label(st.slo, st.budget)} - {word}")
    return sorted(reasons)
