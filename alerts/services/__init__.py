"""Alert ingestion and the alert group's life: de-duplication, grouping, storm protection,
paging and incidents by route, acknowledge, resolve, take over (integrations: alerts.services.integrations).

Alerts is layer 3: it pages through ``oncall.services`` and opens incidents or adds timeline
events through ``incidents.services``; it never writes their rows. Pages it opens have the
alert group as subject, and the group and its page settle each other: acknowledging or
resolving the group calls oncall; a page acknowledged or resolved by a person comes back
through ``oncall.signals`` (``alerts.receivers``).

Concurrency: the partial unique indexes "one open alert per (integration, dedup key)" and "one
open group per (integration, group key)" decide races. A repeated trigger is one conditional
UPDATE; a first trigger inserts inside a savepoint and, when a concurrent request inserted
first, falls back to the update. Only the request that inserted a group pages, so twenty
identical triggers at once make one alert and one page (tests/alerts/test_race.py).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import permissions, sources
from alerts.models import Alert, AlertGroup, Integration, RawPayload, Severity, Urgency
from alerts.services.integrations import Decision, group_key, route
from catalog.models import Service
from incidents import paging as incident_paging
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from notifications.services import notify
from oncall import services as oncall_services
from oncall.models import EscalationPolicy, Page
from opsportal.errors import Conflict, NotAllowed, ServiceError
from opsportal.links import absolute_url
from probes.models import MaintenanceWindow
from probes.services import window_active
from runbooks.selectors import runbooks_for_services

log = logging.getLogger(__name__)
STORM_WINDOW = timedelta(minutes=1)
PAGING_DISPOSITIONS = (AlertGroup.Disposition.PAGED, AlertGroup.Disposition.INCIDENT)


# --- ingestion --------------------------------------------------------------------------------


def record_payload(
    *, integration: Integration, body: bytes, content_type: str, outcome: str, error: str = "", now=None
) -> RawPayload:
    return RawPayload.objects.create(
        integration=integration,
        received_at=now or timezone.now(),
        content_type=(content_type or "")[:100],
        body=body.decode("utf-8", errors="replace"),
        outcome=outcome,
        error=error[:500],
    )


def payload_unparsed(*, integration: Integration, payload: RawPayload) -> None:
    """Tell the integration's owner team, once per integration per hour (a broken sender must
    not flood them): nothing is lost, the body is kept."""
    hour = payload.received_at.strftime("%Y%m%d%H")
    recipients = _team(integration.service)
    if not recipients:
        return
    notify(
        recipients=recipients,
        kind="update",
        template="alerts/unparsed",
        context={
            "title": f"Alert integration {integration.name}: a payload could not be parsed",
            "url": absolute_url(integration.get_absolute_url()),
            "integration": integration.name,
            "service": integration.service.name,
            "error": payload.error,
            "fields": [["Integration", str(integration)], ["Error", payload.error]],
        },
        idempotency_key=f"alerts:unparsed:{integration.pk}:{hour}",
        related=integration,
    )


def receive(
    *, integration: Integration, body: bytes, content_type: str, alerts: list[sources.ParsedAlert], now=None
) -> list[int]:
    """A parsed request: store its raw body and apply its events (see ``ingest``). The body,
    the repeated triggers it counts and their links to it commit together, in one
    transaction: a storm of repeats costs one commit per request."""
    return ingest(integration=integration, alerts=alerts, now=now, record=(body, content_type))


def ingest(
    *,
    integration: Integration,
    alerts: list[sources.ParsedAlert],
    payload: RawPayload | None = None,
    record: tuple[bytes, str] | None = None,
    now=None,
) -> list[int]:
    """Apply each parsed event; returns the ids of the alerts they touched.

    Repeated triggers (the bulk of an Alertmanager storm: the same fingerprints every repeat
    interval) are counted first, in ONE transaction, one conditional UPDATE each in key order
    (so two payloads never wait on each other in a cycle). Everything else - new alerts,
    acknowledgements, resolutions, and a key that appears twice in one payload - runs in
    payload order, one transaction per event. ``record`` (body, content type) stores the raw
    payload in that first transaction."""
    now = now or timezone.now()
    for p in alerts:
        if not p.dedup_key:
            p.dedup_key = secrets.token_hex(16)  # PagerDuty: a trigger without a key gets one
    seen = Counter(p.dedup_key for p in alerts)
    fast = sorted(
        (p for p in alerts if p.action == sources.TRIGGER and seen[p.dedup_key] == 1),
        key=lambda p: p.dedup_key,
    )
    counted: set[str] = set()
    touched: set[int] = set()
    with transaction.atomic():
        if record is not None:
            payload = record_payload(
                integration=integration, body=record[0], content_type=record[1],
                outcome=RawPayload.Outcome.PARSED, now=now,
            )  # fmt: skip
        if len(fast) > 1 and connection.vendor == "postgresql":
            found = _count_repeats_pg(integration, fast, now)
            counted, touched = set(found), set(found.values())
        else:
            counted = {p.dedup_key for p in fast if _count_repeat(integration, p, now)}
            if counted:
                touched = set(
                    Alert.objects.filter(
                        integration=integration, dedup_key__in=counted, status__in=Alert.OPEN
                    ).values_list("pk", flat=True)
                )
        _link(payload, touched)
    later: set[int] = set()
    for p in alerts:
        if p.action == sources.TRIGGER and p.dedup_key in counted:
            continue
        with transaction.atomic():
            if p.action == sources.TRIGGER:
                alert = _trigger(integration, p, now)
            elif p.action == sources.ACKNOWLEDGE:
                alert = _source_acknowledge(integration, p, now)
            else:
                alert = _source_resolve(integration, p, now)
        if alert is not None and alert.pk not in touched:
            later.add(alert.pk)
    _link(payload, later)
    return sorted(touched | later)


def _link(payload: RawPayload | None, alert_ids: set[int]) -> None:
    if payload is None or not alert_ids:
        return
    through = RawPayload.alerts.through
    through.objects.bulk_create(
        [through(rawpayload_id=payload.pk, alert_id=pk) for pk in alert_ids], ignore_conflicts=True
    )


def _open_alerts(integration: Integration, key: str):
    return Alert.objects.filter(integration=integration, dedup_key=key, status__in=Alert.OPEN)


def _count_repeat(integration: Integration, p: sources.ParsedAlert, now: datetime) -> bool:
    """A trigger for an open alert: count it (one conditional UPDATE), page nobody."""
    return bool(
        _open_alerts(integration, p.dedup_key).update(
            occurrences=F("occurrences") + 1,
            last_seen_at=now,
            summary=p.summary or F("summary"),
            labels=p.labels,
            annotations=p.annotations,
        )
    )


def _count_repeats_pg(
    integration: Integration, fast: list[sources.ParsedAlert], now: datetime
) -> dict[str, int]:
    """``_count_repeat`` for many keys in two statements: lock the open alerts in key order
    (a fixed order, so concurrent payloads cannot deadlock), then one UPDATE ... FROM VALUES.
    Returns dedup key -> alert id of the alerts counted."""
    keys = [p.dedup_key for p in fast]
    locked = list(
        Alert.objects.select_for_update()
        .filter(integration=integration, dedup_key__in=keys, status__in=Alert.OPEN)
        .order_by("dedup_key")
        .values_list("dedup_key", flat=True)
    )
    if not locked:
        return {}
    rows = [p for p in fast if p.dedup_key in set(locked)]
    values = ", ".join(["(%s, %s, %s::jsonb, %s::jsonb)"] * len(rows))
    params: list = []
    for p in rows:
        params += [p.dedup_key, p.summary, json.dumps(p.labels), json.dumps(p.annotations)]
    table = Alert._meta.db_table
    # Only the table name and placeholders are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} AS a SET occurrences = a.occurrences + 1, last_seen_at = %s, "  # noqa: S608
        "summary = CASE WHEN v.summary = '' THEN a.summary ELSE v.summary END, "
        "labels = v.labels, annotations = v.annotations "
        f"FROM (VALUES {values}) AS v(dedup_key, summary, labels, annotations) "
        "WHERE a.integration_id = %s AND a.dedup_key = v.dedup_key AND a.status = ANY(%s) "
        "RETURNING a.dedup_key, a.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params, integration.pk, [str(x) for x in Alert.OPEN]])
        return dict(cursor.fetchall())


def _repeat(integration: Integration, p: sources.ParsedAlert, now: datetime) -> Alert | None:
    if not _count_repeat(integration, p, now):
        return None
    return _open_alerts(integration, p.dedup_key).only("pk", "group_id", "status").first()


def _trigger(integration: Integration, p: sources.ParsedAlert, now: datetime) -> Alert | None:
    existing = _repeat(integration, p, now)
    if existing is not None:
        return existing
    decision = route(integration, p)
    if decision.urgency == Urgency.DROP:
        return None
    try:
        with transaction.atomic():
            group, created = _group_for(integration, p, decision, now)
            alert = Alert.objects.create(
                integration=integration, group=group, source=integration.kind, dedup_key=p.dedup_key,
                severity=p.severity, summary=p.summary or p.dedup_key, details=p.details, labels=p.labels,
                annotations=p.annotations, links=p.links, runbook_url=p.runbook_url,
                started_at=min(p.started_at or now, now), first_seen_at=now, last_seen_at=now,
                decision=decision.explanation,
            )  # fmt: skip
            AlertGroup.objects.filter(pk=group.pk).update(alert_count=F("alert_count") + 1, last_alert_at=now)
    except IntegrityError:
        # A concurrent trigger with the same key inserted the alert first: count this one.
        existing = _repeat(integration, p, now)
        if existing is None:
            raise
        return existing
    if created:
        _respond(group, decision, p, now)
    elif group.incident_id and group.disposition in (
        AlertGroup.Disposition.INCIDENT,
        AlertGroup.Disposition.ATTACHED,
    ):
        _timeline(group.incident, f"Alert: {alert.summary} ({integration.name})", now, alert)
    return alert


def _group_for(
    integration: Integration, p: sources.ParsedAlert, decision: Decision, now: datetime
) -> tuple[AlertGroup, bool]:
    key = group_key(integration, p)
    group = AlertGroup.objects.filter(
        integration=integration, group_key=key, status__in=AlertGroup.OPEN
    ).first()
    if group is not None:
        return group, False
    try:
        with transaction.atomic():
            group = AlertGroup.objects.create(
                integration=integration, service=decision.service, group_key=key,
                title=_title(p), severity=p.severity, urgency=decision.urgency,
                disposition=AlertGroup.Disposition.RECORDED, decision=decision.explanation, labels=p.labels,
                runbook_url=p.runbook_url or _matched_runbook(decision.service, p),
                started_at=min(p.started_at or now, now), last_alert_at=now, created_at=now,
            )  # fmt: skip
    except IntegrityError:
        group = AlertGroup.objects.filter(
            integration=integration, group_key=key, status__in=AlertGroup.OPEN
        ).first()
        if group is None:
            raise
        return group, False
    return group, True


def _title(p: sources.ParsedAlert) -> str:
    name = p.alert_name
    if name and name not in p.summary:
        return f"{name}: {p.summary}"[:300]
    return (p.summary or p.dedup_key)[:300]


def _matched_runbook(service: Service, p: sources.ParsedAlert) -> str:
    """No runbook_url annotation: the service's runbook whose title, slug or scenarios name the
    alert (its alertname or a label value), else its only runbook."""
    books = list(runbooks_for_services([service.pk], limit=20))
    words = [w.lower() for w in [p.alert_name, *p.labels.values()] if w and len(w) > 2]
    for book in books:
        text = f"{book.title} {book.slug} {book.scenarios}".lower()
        if any(word in text for word in words):
            return absolute_url(book.get_absolute_url())
    if len(books) == 1:
        return absolute_url(books[0].get_absolute_url())
    return ""


def _team(service: Service) -> list:
    team = service.owner_team
    people = [u for u in [team.manager, *team.members.all()] if u is not None and u.is_active]
    unique = list(dict.fromkeys(people))
    if team.email:
        unique.append(team.email)
    return unique


def _in_maintenance(service: Service, now: datetime) -> bool:
    windows = MaintenanceWindow.objects.filter(service=service, starts_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    return any(window_active(w, now) for w in windows)


def _set(group: AlertGroup, **fields) -> None:
    for name, value in fields.items():
        setattr(group, name, value)
    group.save(update_fields=list(fields))


def _respond(group: AlertGroup, decision: Decision, p: sources.ParsedAlert, now: datetime) -> None:
    """A new group: page, open an incident, fold into the storm, notify, or record."""
    D = AlertGroup.Disposition
    if decision.urgency == Urgency.RECORD:
        return
    if decision.urgency == Urgency.NOTIFY:
        _notify_team(group)
        _set(group, disposition=D.NOTIFIED)
        return
    service = group.service
    # Serialise what follows per service (the open-incident check and the storm count):
    # concurrent new groups would otherwise each miss the others' uncommitted rows - two
    # incidents, or every group paging in a storm. Only new paging groups take this lock
    # (repeated triggers never do); it is held to the end of the group's transaction.
    Service.objects.select_for_update().filter(pk=service.pk).values_list("pk", flat=True).first()
    if _in_maintenance(service, now):
        _set(
            group,
            disposition=D.SILENCED,
            decision=f"{group.decision}; silenced: {service.name} is in maintenance",
        )
        return
    incident = (
        Incident.objects.filter(services=service, status__in=Incident.OPEN_STATUSES)
        .order_by("-detected_at")
        .first()
    )
    if incident is not None:
        _timeline(incident, f"Alert group opened: {group.title} ({group.integration.name})", now, group)
        _set(group, disposition=D.ATTACHED, incident=incident,
             decision=f"{group.decision}; attached to the open incident {incident}")  # fmt: skip
        return
    recent = AlertGroup.objects.filter(
        service=service,
        created_at__gte=now - STORM_WINDOW,
        disposition__in=PAGING_DISPOSITIONS,
        is_storm=False,
    ).count()
    if recent >= group.integration.storm_threshold:
        storm = _storm_group(group, now)
        _set(group, disposition=D.STORM, storm=storm,
             decision=f"{group.decision}; storm: over {group.integration.storm_threshold} new groups a minute "
                      f"on {service.name}, folded into {storm.title}")  # fmt: skip
        return
    if decision.urgency == Urgency.INCIDENT:
        incident = _declare(group, decision, p)
        page = Page.objects.filter(
            dedup_key=incident_paging.dedup_key(incident), status__in=Page.OPEN
        ).first()
        _set(group, disposition=D.INCIDENT, incident=incident, page=page or _page(group, decision.policy))
        return
    page = _page(group, decision.policy)
    _set(group, disposition=D.PAGED if page else D.UNPAGED, page=page)


def _storm_group(group: AlertGroup, now: datetime) -> AlertGroup:
    service = group.service
    storm = AlertGroup.objects.filter(service=service, is_storm=True, status__in=AlertGroup.OPEN).first()
    if storm is not None:
        AlertGroup.objects.filter(pk=storm.pk).update(alert_count=F("alert_count") + 1, last_alert_at=now)
        return storm
    try:
        with transaction.atomic():
            storm = AlertGroup.objects.create(
                integration=group.integration, service=service, group_key=f"storm:{service.pk}",
                title=f"Alert storm on {service.name}", severity=Severity.CRITICAL, urgency=Urgency.PAGE,
                disposition=AlertGroup.Disposition.PAGED, is_storm=True, alert_count=1,
                decision=f"over {group.integration.storm_threshold} new alert groups in a minute on {service.name}: "
                         "one page for all of them",
                started_at=now, last_alert_at=now, created_at=now,
            )  # fmt: skip
    except IntegrityError:
        storm = AlertGroup.objects.get(service=service, is_storm=True, status__in=AlertGroup.OPEN)
        AlertGroup.objects.filter(pk=storm.pk).update(alert_count=F("alert_count") + 1, last_alert_at=now)
        return storm
    page = _page(storm, None, summary_extra=f"First: {group.title}\nSee every stormed group: "
                 f"{absolute_url('/admin/alerts/alertgroup/')}?storm__id__exact={storm.pk}")  # fmt: skip
    _set(storm, page=page)
    return storm


def _declare(group: AlertGroup, decision: Decision, p: sources.ParsedAlert) -> Incident:
    summary = f"{p.summary}\n\nRunbook: {group.runbook_url}" if group.runbook_url else p.summary
    return incident_services.declare_incident(
        title=f"{group.service.name}: {group.title}"[:200],
        severity=decision.incident_severity,
        services=[group.service],
        actor=None,
        detection_source=Incident.DetectionSource.MONITORING,
        detected_at=group.started_at,
        started_at=group.started_at,
        summary=summary,
    )


def _timeline(incident: Incident, text: str, at: datetime, related) -> None:
    incident_services.add_timeline_event(
        incident=incident, kind=TimelineEvent.Kind.ALERT, text=text[:2000], occurred_at=at, related=related
    )


def page_summary(group: AlertGroup) -> str:
    integration = group.integration
    labels = ", ".join(f"{k}={v}" for k, v in sorted(group.labels.items())[:15])
    lines = [
        f"Source: {integration.get_kind_display()} ({integration.name})",
        f"Severity: {group.severity}",
    ]
    if labels:
        lines.append(f"Labels: {labels}")
    lines.append(f"Runbook: {group.runbook_url or 'none linked'}")
    lines.append(f"Routing: {group.decision}")
    return "\n".join(lines)


def _page(group: AlertGroup, policy: EscalationPolicy | None, *, summary_extra: str = "") -> Page | None:
    summary = page_summary(group) + (f"\n{summary_extra}" if summary_extra else "")
    try:
        with transaction.atomic():
            return oncall_services.open_page(
                title=f"[{group.get_severity_display()}] {group.title}"[:200], summary=summary,
                url=absolute_url(group.get_absolute_url()), service=group.service, policy=policy, subject=group,
                dedup_key=f"alerts:group:{group.pk}",
            )  # fmt: skip
    except ServiceError as exc:
        log.warning("alert group %s: no page (%s); notifying the owner team", group.pk, exc.message)
        _notify_team(group, kind="page")
        return None


def _notify_team(group: AlertGroup, *, kind: str = "update") -> None:
    recipients = _team(group.service)
    if not recipients:
        return
    url = absolute_url(group.get_absolute_url())
    notify(
        recipients=recipients,
        kind=kind,
        template="alerts/group",
        context={
            "title": f"[{group.get_severity_display()}] {group.title}",
            "url": url,
            "summary": page_summary(group),
            "fields": [
                ["Service", group.service.name],
                ["Severity", group.severity],
                ["Runbook", group.runbook_url or "-"],
            ],
            "actions": [["Open alert group", url]],
        },
        idempotency_key=f"alerts:group:{group.pk}:notify",
        related=group,
    )


def _source_acknowledge(integration: Integration, p: sources.ParsedAlert, now: datetime) -> Alert | None:
    alert = _open_alerts(integration, p.dedup_key).select_for_update().first()
    if alert is None:
        return None
    if alert.status != Alert.Status.ACKNOWLEDGED:
        Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.ACKNOWLEDGED, last_seen_at=now)
    group = AlertGroup.objects.get(pk=alert.group_id)
    if group.status == AlertGroup.Status.FIRING:
        _acknowledge(group, user=None, via="alert source", now=now)
    return alert


def _source_resolve(integration: Integration, p: sources.ParsedAlert, now: datetime) -> Alert | None:
    alert = _open_alerts(integration, p.dedup_key).select_for_update().first()
    if alert is None:
        return None  # already resolved, or never seen: nothing to do (Alertmanager resends)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.RESOLVED, resolved_at=now, last_seen_at=now)
    alert.status = Alert.Status.RESOLVED
    group = AlertGroup.objects.select_for_update().get(pk=alert.group_id)
    still_open = Alert.objects.filter(group=group, status__in=Alert.OPEN).exists()
    if group.is_open and not group.taken_over_by_id and not still_open:
        reason = f"All alerts resolved by {integration.get_kind_display()}"
        _resolve(group, user=None, reason=reason, now=now)
    return alert


# --- the group's life -------------------------------------------------------------------------


def _acknowledge(group: AlertGroup, *, user, via: str, now: datetime) -> None:
    AlertGroup.objects.filter(pk=group.pk).update(
        status=AlertGroup.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user
    )
    Alert.objects.filter(group=group, status=Alert.Status.FIRING).update(status=Alert.Status.ACKNOWLEDGED)
    group.status, group.acknowledged_at, group.acknowledged_by = AlertGroup.Status.ACKNOWLEDGED, now, user
    if group.page_id and via != "page":
        page = Page.objects.filter(
            pk=group.page_id, status__in=(Page.Status.TRIGGERED, Page.Status.EXHAUSTED)
        ).first()
        if page is not None and user is None and page.dedup_key.startswith("incident:"):
            page = None  # the source's "acknowledge" does not acknowledge an incident's page
        if page is not None:
            try:
                with transaction.atomic():
                    oncall_services.acknowledge_page(page=page, user=user, via="alert")
            except Conflict:
                pass  # acknowledged meanwhile through another door: what we wanted


def _resolve(group: AlertGroup, *, user, reason: str, now: datetime, via: str = "") -> None:
    AlertGroup.objects.filter(pk=group.pk).update(
        status=AlertGroup.Status.RESOLVED, resolved_at=now, resolve_reason=reason[:200]
    )
    if user is not None:  # a person closes the group: its alerts are done with too
        Alert.objects.filter(group=group, status__in=Alert.OPEN).update(
            status=Alert.Status.RESOLVED, resolved_at=now
        )
    group.status, group.resolved_at = AlertGroup.Status.RESOLVED, now
    shared = (
        group.incident_id
        and group.page_id
        and Page.objects.filter(pk=group.page_id, dedup_key__startswith="incident:").exists()
    )
    if group.page_id and via != "page" and not shared:
        page = Page.objects.filter(pk=group.page_id, status__in=Page.OPEN).first()
        if page is not None:
            try:
                with transaction.atomic():
                    oncall_services.resolve_page(page=page, user=user, reason=reason)
            except Conflict:
                pass
    if group.incident_id:
        incident = Incident.objects.filter(pk=group.incident_id).first()
        if incident is not None and incident.is_open:
            _timeline(incident, f"Alert group resolved: {group.title} ({reason})", now, group)
    if (
        group.storm_id
        and not AlertGroup.objects.filter(storm_id=group.storm_id, status__in=AlertGroup.OPEN).exists()
    ):
        storm = (
            AlertGroup.objects.select_for_update()
            .filter(pk=group.storm_id, status__in=AlertGroup.OPEN)
            .first()
        )
        if storm is not None and not storm.taken_over_by_id:
            _resolve(storm, user=None, reason="Every stormed group resolved", now=now)


def _lock_group(group: AlertGroup) -> AlertGroup:
    return AlertGroup.objects.select_for_update().select_related("integration", "service").get(pk=group.pk)


def acknowledge_group(*, group: AlertGroup, actor, via: str = "api") -> AlertGroup:
    """A person acknowledges (API, admin): the group and its page; Conflict if not firing."""
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers acknowledge alerts.")
    with transaction.atomic():
        locked = _lock_group(group)
        if locked.status == AlertGroup.Status.ACKNOWLEDGED:
            raise Conflict(f"Already acknowledged at {locked.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC.")
        if locked.status == AlertGroup.Status.RESOLVED:
            raise Conflict(f"Already resolved at {locked.resolved_at:%Y-%m-%d %H:%M:%S} UTC.")
        _acknowledge(locked, user=actor, via=via, now=timezone.now())
    return locked


def resolve_group(*, group: AlertGroup, actor, reason: str = "") -> AlertGroup:
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers resolve alerts.")
    with transaction.atomic():
        locked = _lock_group(group)
        if locked.status == AlertGroup.Status.RESOLVED:
            raise Conflict(f"Already resolved at {locked.resolved_at:%Y-%m-%d %H:%M:%S} UTC.")
        _resolve(locked, user=actor, reason=reason or f"Resolved by {actor}", now=timezone.now())
    return locked


def take_over(*, group: AlertGroup, actor) -> AlertGroup:
    """A person owns the group: the source's "resolved" no longer resolves it."""
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers take alerts over.")
    with transaction.atomic():
        locked = _lock_group(group)
        if not locked.is_open:
            raise Conflict("The group is resolved.")
        if locked.taken_over_by_id:
            raise Conflict(f"Already taken over by {locked.taken_over_by}.")
        now = timezone.now()
        _set(locked, taken_over_by=actor)
        if locked.status == AlertGroup.Status.FIRING:
            _acknowledge(locked, user=actor, via="take over", now=now)
    return locked


def open_incident(*, group: AlertGroup, actor, severity: int | None = None) -> Incident:
    """Declare an incident from a group (the admin's "Open incident"): detection source
    monitoring, detected at the first alert's start; the group's page stays as it is."""
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers open incidents from alerts.")
    with transaction.atomic():
        locked = _lock_group(group)
        if locked.incident_id:
            raise Conflict(f"Already linked to {locked.incident}.")
        level = severity or locked.integration.incident_severity or 3
        first = locked.alerts.order_by("started_at").first()
        summary = f"{first.summary if first else locked.title}\n\n{page_summary(locked)}"
        incident = incident_services.declare_incident(
            title=f"{locked.service.name}: {locked.title}"[:200], severity=level, services=[locked.service],
            actor=actor, detection_source=Incident.DetectionSource.MONITORING, detected_at=locked.started_at,
            started_at=locked.started_at, summary=summary,
        )  # fmt: skip
        _set(locked, incident=incident)
    return incident


def attach_to_incident(*, group: AlertGroup | int, incident: Incident, actor) -> AlertGroup:
    """Link a group to an incident declared from it (the incident room's
    ``?from=alertgroup:<id>``): later alerts of the group land on that incident's timeline."""
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers link alert groups to incidents.")
    with transaction.atomic():
        locked = AlertGroup.objects.select_for_update().get(pk=getattr(group, "pk", group))
        if locked.incident_id and locked.incident_id != incident.pk:
            raise Conflict(f"Already linked to {locked.incident}.")
        if locked.incident_id != incident.pk:
            _set(locked, incident=incident)
            _timeline(incident, f"Alert group linked: {locked.title}", locked.started_at, locked)
    return locked


# --- signals from oncall (alerts.receivers) ---------------------------------------------------


def page_acknowledged(*, page: Page, user, at: datetime) -> None:
    """A page of ours was acknowledged (link, admin, API): acknowledge its groups."""
    with transaction.atomic():
        for group in AlertGroup.objects.select_for_update().filter(
            page=page, status=AlertGroup.Status.FIRING
        ):
            _acknowledge(group, user=user, via="page", now=at)


def page_resolved(*, page: Page, user, at: datetime, reason: str = "") -> None:
    """A page of ours was resolved: resolve its open groups (automation resolving the page
    was us: the groups are already resolved)."""
    with transaction.atomic():
        for group in AlertGroup.objects.select_for_update().filter(page=page, status__in=AlertGroup.OPEN):
            _resolve(group, user=user, reason=reason or "Page resolved", now=at, via="page")


# --- retention --------------------------------------------------------------------------------


def prune_payloads(*, now: datetime | None = None, days: int | None = None, chunk: int = 5_000) -> int:
    """Delete raw payloads older than ``ALERTS_PAYLOAD_RETENTION_DAYS``, in chunks."""
    now = now or timezone.now()
    days = settings.ALERTS_PAYLOAD_RETENTION_DAYS if days is None else days
    cutoff = now - timedelta(days=days)
    total = 0
    while True:
        ids = list(RawPayload.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            return total
        total += RawPayload.objects.filter(pk__in=ids).delete()[1].get("alerts.RawPayload", 0)
