"""Every state change of SLOs: configuration, pushed events, Prometheus syncs, re-computation
and the burn-rate sweep that opens and resolves burn alerts (pages, incidents, tickets).

The sweep (``slos.sweep`` every minute, :func:`sweep`) reads every active SLO's windows with a
constant number of queries (``selectors.window_sums``), then for each SLO and severity:

- a rule fires (long AND short window burn faster than its factor) and no alert is open: the
  burn's start is found (``engine.burn_start``); if the last alert of that severity was
  resolved but its burn began inside the firing rule's long window, it is the same burn
  flaring again - that alert is reopened and the team gets an update, nobody is paged twice;
  otherwise a new alert opens. A page alert pages on-call through ``oncall.services.open_page``
  (deduplicated per alert) and, with ``open_incident``, declares an incident (detection source
  ``slo``, detected = started = the burn's start). A ticket alert notifies the owning team
  (kind "update", no page).
- no rule of the severity fires and an alert is open: it is resolved (and its page with it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Service
from incidents import paging
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from notifications.services import notify
from oncall import services as oncall_services
from oncall.models import Page
from opsportal.errors import InvalidInput, NotAllowed, ServiceError
from opsportal.links import absolute_url
from opsportal.text import strip_control_characters
from probes.models import Probe
from runbooks.models import Runbook
from slos import conf, engine, permissions, prometheus, rollups, selectors
from slos.engine import MINUTE, floor_minute
from slos.models import SLO, BurnAlert

log = logging.getLogger(__name__)

CONFIG_FIELDS = (
    "service", "name", "kind", "objective", "window", "owner_team", "description", "degraded_is_good",
    "latency_threshold_ms", "prometheus_good_query", "prometheus_total_query", "burn_rules", "open_incident",
    "incident_severity", "is_active",
)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------
def validate_slo(slo: SLO, probes: list[Probe] | None) -> None:
    if not (slo.name or "").strip():
        raise InvalidInput("An SLO needs a name.", field="name")
    if slo.kind not in SLO.Kind.values:
        raise InvalidInput(f"Unknown SLI kind {slo.kind!r}.", field="kind")
    if slo.window not in SLO.Window.values:
        raise InvalidInput(f"Unknown window {slo.window!r}.", field="window")
    try:
        objective = Decimal(str(slo.objective))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput("The objective is a percentage such as 99.9.", field="objective") from None
    if not objective.is_finite() or not (Decimal("50") <= objective <= Decimal("100")):
        raise InvalidInput("The objective is a percentage from 50 to 100 (e.g. 99.9).", field="objective")
    if objective.as_tuple().exponent < -4:
        raise InvalidInput("The objective has at most 4 decimal places.", field="objective")
    if not (slo.description or "").strip():
        raise InvalidInput('Describe what "good" means for this SLO.', field="description")
    try:
        engine.validate_rules(slo.burn_rules)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="burn_rules") from None
    if not (1 <= int(slo.incident_severity or 0) <= 5):
        raise InvalidInput("The incident severity is a level from 1 to 5.", field="incident_severity")
    if slo.kind == SLO.Kind.PROBE_LATENCY and not slo.latency_threshold_ms:
        raise InvalidInput("A latency SLO needs a threshold in milliseconds.", field="latency_threshold_ms")
    if slo.kind == SLO.Kind.PROMETHEUS_RATIO:
        for name in ("prometheus_good_query", "prometheus_total_query"):
            if not (getattr(slo, name) or "").strip():
                raise InvalidInput("A Prometheus SLO needs both PromQL queries.", field=name)
            if len(getattr(slo, name)) > 2000:
                raise InvalidInput("A PromQL query has at most 2000 characters.", field=name)
    if probes is not None:
        if slo.kind in rollups.PROBE_KINDS:
            if not probes:
                raise InvalidInput("Choose at least one probe of the service.", field="probes")
            for p in probes:
                if p.service_id != slo.service_id:
                    raise InvalidInput(f"Probe '{p.name}' belongs to another service.", field="probes")
                if p.kind == Probe.Kind.HEARTBEAT:
                    raise InvalidInput(
                        f"Probe '{p.name}' is a heartbeat: probe SLIs count scheduled checks.", field="probes"
                    )
        elif probes:
            raise InvalidInput("Only probe SLIs choose probes.", field="probes")
    try:
        slo.full_clean(
            exclude=["probes", "service", "owner_team"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"{messages[0]}", field=field) from None
    if SLO.objects.filter(service_id=slo.service_id, name=slo.name.strip()).exclude(pk=slo.pk).exists():
        raise InvalidInput("This service already has an SLO of that name.", field="name")


@transaction.atomic
def save_slo(*, slo: SLO | None = None, actor=None, probes=None, **fields) -> SLO:
    """Create or change an SLO. A probe SLO whose probes, kind or good-definition changed is
    re-rolled-up from the retained raw results over its window."""
    creating = slo is None
    if actor is not None and not permissions.can_configure(actor, creating=creating):
        raise NotAllowed("Only engineering managers define SLOs.")
    unknown = set(fields) - set(CONFIG_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown SLO fields: {', '.join(sorted(unknown))}.")
    if creating:
        slo = SLO()
        before = None
    else:
        slo = SLO.objects.select_for_update().get(pk=slo.pk)
        before = {
            "kind": slo.kind, "degraded_is_good": slo.degraded_is_good, "latency": slo.latency_threshold_ms,
            "probes": set(slo.probes.values_list("pk", flat=True)),
            "queries": (slo.prometheus_good_query, slo.prometheus_total_query),
        }  # fmt: skip
    for name, value in fields.items():
        setattr(slo, name, value)
    if isinstance(slo.name, str):
        slo.name = slo.name.strip()
    probe_list = list(probes) if probes is not None else (None if not creating else [])
    check_probes = probe_list if probe_list is not None else list(slo.probes.all())
    validate_slo(slo, check_probes)
    slo.save()
    if probe_list is not None:
        slo.probes.set(probe_list)
    after = {
        "kind": slo.kind, "degraded_is_good": slo.degraded_is_good, "latency": slo.latency_threshold_ms,
        "probes": {p.pk for p in check_probes}, "queries": (slo.prometheus_good_query, slo.prometheus_total_query),
    }  # fmt: skip
    if before != after:
        now = timezone.now()
        start = engine.window_start(SLO.Window.DAYS_30, now) if slo.window != SLO.Window.MONTH else None
        start = min(filter(None, [start, engine.window_start(slo.window, now)]))
        if slo.uses_probes:
            rollups.recompute_from_results(slo, start, floor_minute(now))
        elif before is not None and before["kind"] != slo.kind:
            rollups.replace_minutes(slo.pk, start, floor_minute(now), {})
        if slo.kind == SLO.Kind.PROMETHEUS_RATIO:
            SLO.objects.filter(pk=slo.pk).update(prometheus_synced_until=None)
            slo.prometheus_synced_until = None
    return slo


@transaction.atomic
def delete_slo(*, slo: SLO, actor=None) -> None:
    if actor is not None and not permissions.can_delete(actor):
        raise NotAllowed("Only engineering managers delete SLOs.")
    SLO.objects.filter(pk=slo.pk).delete()


def recompute(*, slo: SLO, start: datetime, end: datetime, actor=None) -> int:
    """Re-roll-up a probe SLO from raw results (after a maintenance window was added in the
    past). ``manage.py slo_recompute`` and the admin action call this."""
    if actor is not None and not permissions.can_configure(actor):
        raise NotAllowed("Only engineering managers recompute SLOs.")
    if not slo.uses_probes:
        raise InvalidInput("Only probe SLOs are recomputed from raw results.")
    if end <= start:
        raise InvalidInput("The end must be after the start.", field="end")
    return rollups.recompute_from_results(slo, floor_minute(start), floor_minute(end))


MAX_PUSH_MINUTES = 1440


def push_events(*, slo: SLO, actor, events: list[dict], now: datetime | None = None) -> int:
    """Store pushed good/total counts. Each event is ``{"minute", "good", "total"}``; a minute
    pushed again replaces the earlier counts (a retried request changes nothing). Minutes in
    the future, older than 31 days, or repeated within one request are refused - all or
    nothing."""
    if not permissions.can_push(actor):
        raise NotAllowed("You may not push events to SLOs.")
    if slo.kind != SLO.Kind.PUSHED_EVENTS:
        raise InvalidInput(
            "This SLO does not take pushed events (its SLI kind is not 'Events pushed by API')."
        )
    if not events:
        raise InvalidInput("Give at least one minute of events.", field="events")
    if len(events) > MAX_PUSH_MINUTES:
        raise InvalidInput(f"At most {MAX_PUSH_MINUTES} minutes per request.", field="events")
    now = now or timezone.now()
    by_minute: dict[datetime, tuple[int, int]] = {}
    for event in events:
        minute, good, total = event["minute"], event["good"], event["total"]
        if minute.second or minute.microsecond:
            raise InvalidInput(f"{minute.isoformat()} is not the start of a minute.", field="events")
        if minute > floor_minute(now):
            raise InvalidInput(f"{minute.isoformat()} is in the future.", field="events")
        if minute < now - timedelta(days=31):
            raise InvalidInput(f"{minute.isoformat()} is more than 31 days ago.", field="events")
        if good > total:
            raise InvalidInput(
                f"{minute.isoformat()}: good ({good}) exceeds total ({total}).", field="events"
            )
        if minute in by_minute:
            raise InvalidInput(f"{minute.isoformat()} appears twice.", field="events")
        by_minute[minute] = (good, total)
    with transaction.atomic():
        SLO.objects.select_for_update().get(pk=slo.pk)
        for minute, counts in sorted(by_minute.items()):
            rollups.replace_minutes(slo.pk, minute, minute + MINUTE, {minute: counts})
    return len(by_minute)


# ---------------------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------------------
def sync_prometheus(*, slo: SLO, now: datetime | None = None) -> int:
    """Read the SLO's queries since the last sync (minus the overlap; the whole window the
    first time) and replace those minutes. Raises PrometheusError."""
    now = now or timezone.now()
    end = floor_minute(now)
    start = engine.window_start(slo.window, now)
    if slo.window != SLO.Window.MONTH:
        start = min(start, end - timedelta(days=30))
    if slo.prometheus_synced_until is not None:
        start = max(start, slo.prometheus_synced_until - conf.sync_overlap())
    if start >= end:
        return 0
    minutes = prometheus.minutes(slo.prometheus_good_query, slo.prometheus_total_query, start, end)
    written = rollups.replace_minutes(slo.pk, start, end, minutes)
    SLO.objects.filter(pk=slo.pk).update(prometheus_synced_until=end)
    slo.prometheus_synced_until = end
    return written


def sync_all_prometheus(*, now: datetime | None = None) -> dict[int, str]:
    """Sync every active Prometheus SLO; returns slo id -> error for those that failed."""
    errors = {}
    for slo in SLO.objects.filter(is_active=True, kind=SLO.Kind.PROMETHEUS_RATIO):
        try:
            sync_prometheus(slo=slo, now=now)
        except prometheus.PrometheusError as exc:
            log.warning("SLO %s: Prometheus sync failed: %s", slo.pk, exc)
            errors[slo.pk] = str(exc)
    return errors


# ---------------------------------------------------------------------------------------
# The burn-rate sweep
# ---------------------------------------------------------------------------------------
def sweep(*, now: datetime | None = None, sync: bool = True) -> dict[str, int]:
    """Sync Prometheus SLIs, then open/reopen/resolve burn alerts for every active SLO."""
    now = now or timezone.now()
    if sync:
        sync_all_prometheus(now=now)
    counts = {"opened": 0, "reopened": 0, "resolved": 0}
    statuses = selectors.statuses(now=now, with_rule_windows=True)
    selectors.store_snapshot(statuses, now)
    for st in statuses:
        slo = st.slo
        rules = selectors.rules(slo)
        firing = engine.firing_rules(
            rules, {k: v for k, v in st.windows.items() if isinstance(k, int)}, slo.objective
        )
        open_by_severity = {a.severity: a for a in st.open_alerts}
        for severity in (BurnAlert.Severity.PAGE, BurnAlert.Severity.TICKET):
            hits = [f for f in firing if f.rule.severity == severity]
            alert = open_by_severity.get(severity)
            if hits and alert is None:
                # a page-level burn also meets a ticket rule: the page covers it
                if severity == BurnAlert.Severity.TICKET and open_by_severity.get(BurnAlert.Severity.PAGE):
                    continue
                counts[_fire(st, max(hits, key=lambda f: f.rule.factor), now=now)] += 1
            elif not hits and alert is not None:
                resolve_alert(alert=alert, now=now)
                counts["resolved"] += 1
    return counts


def _fire(st: selectors.Status, firing: engine.Firing, *, now: datetime) -> str:
    slo, rule = st.slo, firing.rule
    series = selectors.minute_series(
        slo.pk, floor_minute(now) - rule.long_minutes * MINUTE, floor_minute(now)
    )
    started = engine.burn_start(series, now=now, rule=rule, objective=slo.objective) or floor_minute(now)
    last = BurnAlert.objects.filter(slo=slo, severity=rule.severity).order_by("-detected_at", "-pk").first()
    if (
        last is not None
        and last.status == BurnAlert.Status.RESOLVED
        and last.burn_started_at >= floor_minute(now) - rule.long_minutes * MINUTE
    ):
        # The burn that opened the last alert is still inside this rule's long window: the same
        # burn flaring again. Reopen it and tell the team (an update, not a second page).
        updated = BurnAlert.objects.filter(pk=last.pk, status=BurnAlert.Status.RESOLVED).update(
            status=BurnAlert.Status.OPEN, resolved_at=None, refired_count=last.refired_count + 1
        )
        if updated:
            last.refresh_from_db()
            context = _context(last, st)
            context["title"] = "Flaring again: " + context["title"]
            _notify(last, st, kind="update", template="slos/burn", context=context)
        return "reopened" if updated else "opened"
    try:
        with transaction.atomic():
            alert = BurnAlert.objects.create(
                slo=slo, severity=rule.severity, factor=rule.factor, long_minutes=rule.long_minutes,
                short_minutes=rule.short_minutes, burn_rate_long=_finite(firing.long_rate),
                burn_rate_short=_finite(firing.short_rate), budget_remaining=st.budget.remaining,
                burn_started_at=started, detected_at=now,
            )  # fmt: skip
    except IntegrityError:
        return "reopened"  # a concurrent sweep opened it (one open alert per SLO and severity)
    if rule.severity == BurnAlert.Severity.PAGE:
        _page(alert, st)
    else:
        _ticket(alert, st)
    return "opened"


def _finite(value: float | None) -> float | None:
    if value is None or value == float("inf"):
        return None
    return value


def alert_title(alert: BurnAlert, st: selectors.Status) -> str:
    slo = st.slo
    left = selectors.fmt_pct(max(st.budget.remaining, 0.0) if st.budget.remaining is not None else None)
    rate = selectors.fmt_rate(alert.burn_rate_long if alert.burn_rate_long is not None else float("inf"))
    return strip_control_characters(
        f"SLO {slo.service.slug} {slo.name}: burning {rate} over {_span(alert.long_minutes)}, {left} of budget left"
    )[:200]


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _context(alert: BurnAlert, st: selectors.Status) -> dict:
    slo = st.slo
    url = absolute_url(slo.get_absolute_url())
    runbooks = list(Runbook.objects.filter(services=slo.service).order_by("title")[:5])
    fields = [
        ["Service", slo.service.name],
        ["SLO", f"{slo.name}: {slo.objective.normalize()} % over {selectors.window_label(slo)} window"],
        ["Burn rate", f"{selectors.fmt_rate(alert.burn_rate_long)} over {_span(alert.long_minutes)}, "
                      f"{selectors.fmt_rate(alert.burn_rate_short)} over {_span(alert.short_minutes)} "
                      f"(threshold {alert.factor:g}x)"],
        ["Budget left", selectors.fmt_pct(st.budget.remaining)],
        ["Burn began", f"{alert.burn_started_at:%Y-%m-%d %H:%M} UTC"],
    ]  # fmt: skip
    actions = [["Open SLO", url]] + [
        [f"Runbook: {rb.title}", absolute_url(rb.get_absolute_url())] for rb in runbooks
    ]
    summary = "\n".join(f"{label}: {value}" for label, value in fields)
    if runbooks:
        summary += "\nRunbooks:\n" + "\n".join(f"- {label[9:]}: {link}" for label, link in actions[1:])
    return {
        "title": alert_title(alert, st),
        "url": url,
        "fields": fields,
        "actions": actions,
        "summary": summary,
    }


def _recipients(service: Service) -> list:
    team = service.owner_team
    people = [u for u in [team.manager, *team.members.all()] if u is not None and u.is_active]
    unique = list(dict.fromkeys(people))
    if team.email:
        unique.append(team.email)
    return unique


def _page(alert: BurnAlert, st: selectors.Status) -> None:
    slo = st.slo
    context = _context(alert, st)
    incident = None
    if slo.open_incident:
        incident = (
            Incident.objects.filter(services=slo.service, status__in=Incident.OPEN_STATUSES, drill=False)
            .order_by("-detected_at")
            .first()
        )
        if incident is None:
            incident = incident_services.declare_incident(
                title=context["title"], severity=slo.incident_severity, services=[slo.service], actor=None,
                detection_source=Incident.DetectionSource.SLO, detected_at=alert.burn_started_at,
                started_at=alert.burn_started_at, summary=context["summary"],
            )  # fmt: skip
        else:
            incident_services.add_timeline_event(
                incident=incident, kind=TimelineEvent.Kind.NOTE, text=f"Error-budget burn: {context['title']}",
                occurred_at=alert.burn_started_at, related=slo,
            )  # fmt: skip
        alert.incident = incident
        existing = Page.objects.filter(dedup_key=paging.dedup_key(incident), status__in=Page.OPEN).first()
        if existing is not None:
            alert.page = existing
            alert.save(update_fields=["incident", "page"])
            return
    try:
        with transaction.atomic():
            alert.page = oncall_services.open_page(
                title=context["title"], summary=context["summary"], url=context["url"], service=slo.service,
                subject=alert, dedup_key=f"slos:burn:{alert.pk}",
            )  # fmt: skip
    except ServiceError as exc:
        log.warning("SLO burn %s: no on-call page (%s); notifying the owner team", alert.pk, exc.message)
        _notify(alert, st, kind="page", template="slos/burn", context=context)
    alert.save(update_fields=["incident", "page"])


def _notify(alert: BurnAlert, st: selectors.Status, *, kind: str, template: str, context: dict) -> None:
    recipients = _recipients(st.slo.service)
    if recipients:
        notify(
            recipients=recipients, kind=kind, template=template, context=context,
            idempotency_key=f"slos:burn:{alert.pk}:{alert.refired_count}:{kind}", related=alert,
        )  # fmt: skip


def _ticket(alert: BurnAlert, st: selectors.Status) -> None:
    context = _context(alert, st)
    context["title"] = "Ticket: " + context["title"]
    _notify(alert, st, kind="update", template="slos/burn", context=context)


def resolve_alert(*, alert: BurnAlert, now: datetime) -> bool:
    with transaction.atomic():
        updated = BurnAlert.objects.filter(pk=alert.pk, status=BurnAlert.Status.OPEN).update(
            status=BurnAlert.Status.RESOLVED, resolved_at=now
        )
        if not updated:
            return False
        if alert.page_id:
            page = Page.objects.filter(pk=alert.page_id, status__in=Page.OPEN).first()
            if page is not None and page.dedup_key == f"slos:burn:{alert.pk}":
                oncall_services.resolve_page(
                    page=page, user=None, reason="SLO burn rate back below threshold"
                )
        if alert.incident_id:
            incident = Incident.objects.filter(pk=alert.incident_id).first()
            if incident is not None:
                incident_services.add_timeline_event(
                    incident=incident, kind=TimelineEvent.Kind.NOTE, occurred_at=now, related=alert.slo,
                    text=f"Error-budget burn on {alert.slo} stopped: burn rate back below {alert.factor:g}x.",
                )  # fmt: skip
    return True
