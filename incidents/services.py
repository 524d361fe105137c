"""Every state change of an incident. Admin, API, forms, tasks and other apps come through here.

Transitions lock the incident row (``select_for_update``), validate the move and the actor,
stamp their timestamp once, write a timeline event in the same transaction and send
notifications / paging requests on commit. Lifecycle::

    investigating -> identified -> monitoring -> resolved -> closed
          ^______________________________________|  (reopen)

``acknowledged`` is not a status: the first acknowledgement stamps ``acknowledged_at`` and
makes the acknowledger commander unless one is set. Identifying, mitigating or resolving an
unacknowledged incident acknowledges it first (the responder is evidently on it).

The incident and its on-call pages settle each other (acknowledged, mitigated, resolved, in
both directions): the rules are in ``incidents/paging.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import F, Max
from django.utils import timezone

from catalog.models import Service, Team
from incidents import paging, permissions, signals
from incidents.models import FIRST_NUMBER, Incident, Severity, StatusUpdate, TimelineEvent
from opsportal import timeutil
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_url
from opsportal.quiet import is_quiet, quiet  # noqa: F401  (services.quiet() imports history)
from opsportal.text import refuse_control_characters

Status = Incident.Status
Kind = TimelineEvent.Kind

# How far in the future a client clock may be before a timestamp counts as "in the future".
CLOCK_SKEW = timedelta(minutes=2)

# ---------------------------------------------------------------------------------------
# Close guards: other apps refuse closing (postmortems: "published postmortem required").
# ---------------------------------------------------------------------------------------
CloseGuard = Callable[[Incident], "str | None"]
_close_guards: list[CloseGuard] = []


def register_close_guard(fn: CloseGuard) -> CloseGuard:
    """Register ``fn(incident) -> reason | None``; a reason refuses ``close`` with a Conflict.

    Call it from your ``AppConfig.ready()``; registering the same function twice is a no-op.
    Usable as a decorator.
    """
    if fn not in _close_guards:
        _close_guards.append(fn)
    return fn


def unregister_close_guard(fn: CloseGuard) -> None:
    with contextlib.suppress(ValueError):
        _close_guards.remove(fn)


def close_refusals(incident: Incident) -> list[str]:
    return [reason for guard in list(_close_guards) if (reason := guard(incident))]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _require_responder(actor) -> None:
    if not permissions.can_respond(actor):
        raise NotAllowed("Only responders and engineering managers can act on incidents.")


def _when(at: datetime | None, *, field: str = "at") -> datetime:
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise InvalidInput("Give the time with a time zone.", field=field)
    if at > now + CLOCK_SKEW:
        raise InvalidInput("That time is in the future.", field=field)
    return at


def _lock(incident: Incident | int) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    # No select_related: a row that waited for the lock is re-read after the other
    # transaction committed, but joined rows would still come from the old snapshot
    # (e.g. acknowledged_by NULL). Related objects load lazily, from the fresh row.
    return Incident.objects.select_for_update().get(pk=pk)


def _check_order(incident: Incident) -> None:
    errors = incident.timestamp_errors()
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidInput(message, field=field)


def _save(incident: Incident, actor, fields: Iterable[str] | None = None) -> None:
    _check_order(incident)
    incident._history_user = actor  # simple-history: who made this change
    try:
        with transaction.atomic():
            if fields is None:
                incident.save()
            else:
                incident.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:  # a constraint the checks above did not foresee: still a 400
        raise InvalidInput(f"The change breaks an incident rule: {exc}") from exc


def _name(user) -> str:
    if user is None:
        return "automation"
    return str(user)


def _fmt(at: datetime) -> str:
    return at.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M:%S %Z")


def _severity(value: Severity | int) -> Severity:
    if isinstance(value, Severity):
        return value
    try:
        return Severity.objects.get(level=int(value))
    except (Severity.DoesNotExist, TypeError, ValueError):
        raise InvalidInput(f"Unknown severity {value!r}.", field="severity") from None


def add_timeline_event(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor=None,
    occurred_at: datetime | None = None,
    related: models.Model | None = None,
    data: dict | None = None,
) -> TimelineEvent:
    """Append to an incident's timeline: the ONLY way other apps write timeline rows.

    ``kind`` is a ``TimelineEvent.Kind`` value (escalations: ``support_report``, probes:
    ``probe_alert``, on-call: ``page``, postmortems: ``postmortem``); ``related`` links the
    object the event is about; ``occurred_at`` defaults to now and may not be in the future.
    """
    event = _timeline_event(
        incident=incident,
        kind=kind,
        text=text,
        actor=actor,
        occurred_at=occurred_at,
        related=related,
        data=data,
    )
    event.save()
    return event


def add_timeline_events(events: Iterable[dict]) -> list[TimelineEvent]:
    """Several timeline entries in one INSERT (a surge linking its reports): each dict holds
    ``add_timeline_event``'s arguments and is checked the same way."""
    return TimelineEvent.objects.bulk_create([_timeline_event(**event) for event in events])


def _timeline_event(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor=None,
    occurred_at: datetime | None = None,
    related: models.Model | None = None,
    data: dict | None = None,
) -> TimelineEvent:
    if kind not in Kind.values:
        raise InvalidInput(f"Unknown timeline event kind {kind!r}.", field="kind")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("The timeline entry needs text.", field="text")
    when = _when(occurred_at, field="occurred_at")
    if related is not None and related.pk is None:
        raise InvalidInput("The related object must be saved first.", field="related")
    return TimelineEvent(
        incident=incident,
        kind=kind,
        text=text,
        actor=actor,
        occurred_at=when,
        related_type=ContentType.objects.get_for_model(related) if related is not None else None,
        related_id=related.pk if related is not None else None,
        data=data or {},
    )


def _recipients(incident: Incident, *, exclude=None) -> list:
    people: list = []
    for user in (incident.commander, incident.owning_team.manager if incident.owning_team else None):
        if user is not None and user.is_active and user != exclude and user not in people:
            people.append(user)
    if incident.owning_team and incident.owning_team.email:
        people.append(incident.owning_team.email)
    return people


def _notify(incident: Incident, *, event: str, key: str, actor=None, extra: list | None = None) -> None:
    """Commander, team manager and team mailing list hear about declare / severity / resolve."""
    if is_quiet():
        return
    from notifications.services import notify  # layer 0: allowed; imported late to keep start-up light

    recipients = _recipients(incident, exclude=actor)
    if not recipients:
        return
    url = absolute_url(incident.get_absolute_url())
    fields = [
        ["Severity", incident.severity.label],
        ["Status", incident.get_status_display()],
        ["Commander", str(incident.commander) if incident.commander else "unassigned"],
        ["Services", ", ".join(s.name for s in incident.services.all()) or "-"],
        *(extra or []),
    ]
    notify(
        recipients=recipients,
        kind="update",
        template=f"incidents/{event}",
        context={
            "title": f"{'[DRILL] ' if incident.drill else ''}{incident.reference} {incident.title}",
            "url": url,
            "severity": incident.severity.label,
            "fields": fields,
            "actions": [["Open incident", url]],
            "incident_reference": incident.reference,
            "incident_title": incident.title,
            "summary": incident.summary,
            "actor": _name(actor),
            "drill": incident.drill,
        },
        idempotency_key=key,
        related=incident,
    )


def _page_on_call(incident: Incident, reason: str) -> None:
    """The one paging hook: called when an incident is declared at a paging severity, raised
    to one, or reopened at one. Opens the on-call page in this transaction
    (incidents/paging.py), then announces ``signals.paging_requested`` on commit for anyone
    else who listens."""
    if is_quiet() or not incident.severity.pages_oncall:
        return
    paging.open_incident_page(incident, reason)
    pk, drill = incident.pk, incident.drill

    def send() -> None:
        fresh = Incident.objects.select_related("severity", "owning_team", "primary_service").get(pk=pk)
        signals.paging_requested.send(sender=Incident, incident=fresh, reason=reason, drill=drill)

    transaction.on_commit(send)


# ---------------------------------------------------------------------------------------
# Declare
# ---------------------------------------------------------------------------------------
def _next_number() -> int:
    last = Incident.objects.aggregate(m=Max("number"))["m"]
    return max(FIRST_NUMBER, (last or 0) + 1)


@transaction.atomic
def declare_incident(
    *,
    title: str,
    severity: Severity | int,
    services: Iterable[Service],
    actor,
    detection_source: str = Incident.DetectionSource.MANUAL,
    detected_at: datetime | None = None,
    started_at: datetime | None = None,
    summary: str = "",
    drill: bool = False,
    owning_team: Team | None = None,
    primary_service: Service | None = None,
    commander=None,
    customer_impact: str = "",
    customers_affected: int | None = None,
    channel_url: str = "",
    tags: str = "",
) -> Incident:
    """Open an incident. ``actor`` is the person declaring it, or None for automation
    (a probe or alert). Title, severity and one service are enough."""
    if actor is not None:
        _require_responder(actor)
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the incident a title.", field="title")
    refuse_control_characters(title, field="title")  # shown on the status page and its feeds
    severity = _severity(severity)
    services = list(services or [])
    if primary_service is not None and primary_service not in services:
        services.insert(0, primary_service)
    primary_service = primary_service or (services[0] if services else None)
    owning_team = owning_team or (primary_service.owner_team if primary_service else None)
    if owning_team is None:
        raise InvalidInput("Pick at least one affected service (or an owning team).", field="services")
    if detection_source not in Incident.DetectionSource.values:
        raise InvalidInput(f"Unknown detection source {detection_source!r}.", field="detection_source")
    if commander is not None and not permissions.can_respond(commander):
        raise InvalidInput(f"{commander} cannot command incidents.", field="commander")
    detected = _when(detected_at, field="detected_at")
    started = _when(started_at, field="started_at") if started_at is not None else detected

    incident = Incident(
        title=title,
        summary=summary,
        severity=severity,
        peak_severity=severity,
        drill=drill,
        detection_source=detection_source,
        primary_service=primary_service,
        owning_team=owning_team,
        commander=commander,
        declared_by=actor,
        customer_impact=customer_impact,
        customers_affected=customers_affected,
        channel_url=channel_url,
        tags=_normalise_tags(tags),
        started_at=started,
        detected_at=detected,
    )
    for attempt in range(5):  # two declarations at once may pick the same number: retry
        incident.number = _next_number()
        try:
            _save(incident, actor)
            break
        except InvalidInput:
            if attempt == 4 or not Incident.objects.filter(number=incident.number).exists():
                raise
            incident.pk = None
    incident.services.set(services)

    source = incident.get_detection_source_display().lower()
    add_timeline_event(
        incident=incident,
        kind=Kind.DECLARED,
        text=f"Declared {severity.label}{' (drill)' if drill else ''} by {_name(actor)}, detected via {source}.",
        actor=actor,
        occurred_at=detected,
        data={"severity": severity.level},
    )
    if started < detected:
        add_timeline_event(
            incident=incident,
            kind=Kind.DETAILS_CHANGED,
            text="Customer impact began.",
            occurred_at=started,
            data={"started_at": started.isoformat()},
        )
    if commander is not None:
        add_timeline_event(
            incident=incident,
            kind=Kind.ROLE_CHANGED,
            text=f"{commander} is incident commander.",
            actor=actor,
            occurred_at=detected,
            data={"role": "commander", "to": commander.pk},
        )
    _notify(incident, event="declared", key=f"incidents:{incident.pk}:declared", actor=actor)
    _page_on_call(incident, "declared")
    return incident


def _normalise_tags(tags: str | Iterable[str]) -> str:
    parts = tags.split(",") if isinstance(tags, str) else list(tags)
    seen: list[str] = []
    for part in parts:
        tag = part.strip().lower()
        if tag and tag not in seen:
            seen.append(tag)
    result = ", ".join(seen)
    if len(result) > 200:
        raise InvalidInput("Too many tags (200 characters at most).", field="tags")
    return result


# ---------------------------------------------------------------------------------------
# Acknowledge and roles
# ---------------------------------------------------------------------------------------
def _stamp_ack(incident: Incident, actor, when: datetime, *, via: str = "incident") -> None:
    incident.acknowledged_at = when
    incident.acknowledged_by = actor
    became_commander = incident.commander is None
    if became_commander:
        incident.commander = actor
    _save(incident, actor, ["acknowledged_at", "acknowledged_by", "commander"])
    late = when > incident.ack_due_at()
    add_timeline_event(
        incident=incident,
        kind=Kind.ACKNOWLEDGED,
        text=f"Acknowledged by {actor}{' (after the acknowledgement SLA)' if late else ''}."
        + (f" {actor} is incident commander." if became_commander else ""),
        actor=actor,
        occurred_at=when,
        data={"within_sla": not late, "via": via},
    )


def _refuse_closed(incident: Incident, verb: str) -> None:
    if not incident.is_open:
        raise Conflict(f"{incident.reference} is {incident.get_status_display().lower()}: cannot {verb} it.")


def _acknowledged_through_page(incident: Incident) -> bool:
    data = (
        incident.timeline.filter(kind=Kind.ACKNOWLEDGED)
        .order_by("-occurred_at", "-pk")
        .values_list("data", flat=True)
        .first()
    )
    return bool(data) and data.get("via") == "page"


@transaction.atomic
def acknowledge(
    *, incident: Incident, actor, at: datetime | None = None, from_page: bool = False
) -> Incident:
    """Stamp the first acknowledgement and acknowledge the incident's pages still calling
    people (escalation stops). Race-safe: a second acknowledgement of the incident gets a
    Conflict naming the first - except when there is still something to acknowledge or the two
    doors meant the same thing, which return the incident as it is:

    - the incident was acknowledged through its page (a page's acknowledgement and the
      incident's, at the same moment, are one acknowledgement);
    - a page of the acknowledged incident is calling people again (its acknowledgement timed
      out, or a reopen paged again): that page is acknowledged, the incident keeps its first
      acknowledgement and gets no second timeline entry.

    ``from_page``: the page's acknowledgement is being passed on (incidents.paging); its page
    is acknowledged already."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    if incident.acknowledged_at is not None:
        if not from_page:
            retriggered = paging.acknowledge_incident_pages(incident, actor) if incident.is_open else 0
            if retriggered or _acknowledged_through_page(incident):
                return incident
        raise Conflict(
            f"{incident.reference} was already acknowledged by {_name(incident.acknowledged_by)} "
            f"at {_fmt(incident.acknowledged_at)}."
        )
    _refuse_closed(incident, "acknowledge")
    _stamp_ack(incident, actor, when, via="page" if from_page else "incident")
    if not from_page:
        paging.acknowledge_incident_pages(incident, actor)
    return incident


ROLES = {"commander": "incident commander", "comms_lead": "communications lead", "scribe": "scribe"}


@transaction.atomic
def assign_role(*, incident: Incident, actor, role: str, user) -> Incident:
    """Give ``role`` (commander / comms_lead / scribe) to ``user``; None clears it."""
    _require_responder(actor)
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", field="role")
    incident = _lock(incident)
    if user is not None and not permissions.can_respond(user):
        raise InvalidInput(f"{user} is not a responder or engineering manager.", field=role)
    if role == "commander" and user is None and incident.acknowledged_at is not None:
        raise InvalidInput("An acknowledged incident needs a commander.", field="commander")
    previous = getattr(incident, role)
    if previous == user:
        return incident
    setattr(incident, role, user)
    _save(incident, actor, [role])
    label = ROLES[role]
    text = f"{user} is {label}" + (f" (was {previous})." if previous else ".") if user else f"No {label}."
    add_timeline_event(
        incident=incident,
        kind=Kind.ROLE_CHANGED,
        text=text,
        actor=actor,
        data={"role": role, "from": previous.pk if previous else None, "to": user.pk if user else None},
    )
    return incident


def take_command(*, incident: Incident, actor) -> Incident:
    """The actor becomes incident commander."""
    return assign_role(incident=incident, actor=actor, role="commander", user=actor)


# ---------------------------------------------------------------------------------------
# Status transitions
# ---------------------------------------------------------------------------------------
ALLOWED: dict[str, set[str]] = {
    Status.INVESTIGATING: {Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED},
    Status.IDENTIFIED: {Status.MONITORING, Status.RESOLVED},
    Status.MONITORING: {Status.RESOLVED},
    Status.RESOLVED: {Status.INVESTIGATING, Status.CLOSED},
    Status.CLOSED: set(),
}


def _move(incident: Incident, target: str, actor) -> str:
    if target not in ALLOWED[incident.status]:
        if incident.status == target:
            by = ""
            if target == Status.RESOLVED and incident.resolved_at:
                by = f" by {_name(incident.resolved_by)} at {_fmt(incident.resolved_at)}"
            raise Conflict(f"{incident.reference} is already {incident.get_status_display().lower()}{by}.")
        raise Conflict(
            f"{incident.reference} cannot move from {incident.get_status_display().lower()} "
            f"to {Status(target).label.lower()}."
        )
    previous = incident.status
    incident.status = target
    return previous


def _status_event(
    incident: Incident, previous: str, actor, when: datetime, note: str, extra: str = ""
) -> None:
    text = f"Status {Status(previous).label.lower()} -> {incident.get_status_display().lower()}{extra}."
    if note:
        text += f" {note.strip()}"
    add_timeline_event(
        incident=incident,
        kind=Kind.STATUS_CHANGED,
        text=text,
        actor=actor,
        occurred_at=when,
        data={"from": previous, "to": incident.status},
    )


def _ack_first(incident: Incident, actor, when: datetime) -> None:
    if incident.acknowledged_at is None:
        _stamp_ack(incident, actor, max(when, incident.detected_at))


@transaction.atomic
def identify(*, incident: Incident, actor, at: datetime | None = None, note: str = "") -> Incident:
    """investigating -> identified: the cause is known."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    previous = _move(incident, Status.IDENTIFIED, actor)
    _ack_first(incident, actor, when)
    _save(incident, actor, ["status"])
    _status_event(incident, previous, actor, when, note)
    paging.acknowledge_incident_pages(incident, actor)  # someone is evidently on it
    return incident


@transaction.atomic
def mitigate(*, incident: Incident, actor, at: datetime | None = None, note: str = "") -> Incident:
    """-> monitoring: impact is mitigated (stamps ``mitigated_at``), watching for recurrence."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    previous = _move(incident, Status.MONITORING, actor)
    _ack_first(incident, actor, when)
    incident.mitigated_at = incident.mitigated_at or when
    _save(incident, actor, ["status", "mitigated_at"])
    _status_event(incident, previous, actor, when, note, " (impact mitigated)")
    paging.acknowledge_incident_pages(incident, actor)  # pages still triggered stop escalating
    return incident


mark_monitoring = mitigate


@transaction.atomic
def resolve(*, incident: Incident, actor, at: datetime | None = None, note: str = "") -> Incident:
    """-> resolved: stamps ``resolved_at`` (and ``mitigated_at`` if mitigation was not marked).
    Race-safe: a second resolver gets "already resolved by X at T"."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    previous = _move(incident, Status.RESOLVED, actor)
    _ack_first(incident, actor, when)
    incident.mitigated_at = incident.mitigated_at or when
    incident.resolved_at = when
    incident.resolved_by = actor
    _save(incident, actor, ["status", "mitigated_at", "resolved_at", "resolved_by"])
    _status_event(incident, previous, actor, when, note)
    paging.resolve_incident_pages(incident, actor)
    duration = incident.duration(when)
    _notify(
        incident,
        event="resolved",
        key=f"incidents:{incident.pk}:resolved:{when.isoformat()}",
        actor=actor,
        extra=[["Impact duration", timeutil.human_delta(duration, precise=True)]],
    )
    return incident


@transaction.atomic
def reopen(*, incident: Incident, actor, reason: str = "") -> Incident:
    """resolved -> investigating: impact came back. Clears mitigation and resolution
    (the timeline keeps the earlier ones). At a paging severity on-call is paged again (its
    earlier page was resolved with the incident); the first acknowledgement stays on record,
    and acknowledging the incident or the new page stops the new page."""
    _require_responder(actor)
    incident = _lock(incident)
    old_resolved, old_mitigated = incident.resolved_at, incident.mitigated_at
    previous = _move(incident, Status.INVESTIGATING, actor)
    incident.resolved_at = None
    incident.resolved_by = None
    incident.mitigated_at = None
    incident.reopened_count += 1  # the row is locked: no lost increment
    _save(incident, actor, ["status", "resolved_at", "resolved_by", "mitigated_at", "reopened_count"])
    add_timeline_event(
        incident=incident,
        kind=Kind.STATUS_CHANGED,
        text=f"Reopened ({Status(previous).label.lower()} -> investigating)."
        + (f" {reason.strip()}" if reason.strip() else ""),
        actor=actor,
        data={
            "from": previous,
            "to": incident.status,
            "previous_resolved_at": old_resolved.isoformat() if old_resolved else None,
            "previous_mitigated_at": old_mitigated.isoformat() if old_mitigated else None,
        },
    )
    _page_on_call(incident, "reopened")
    return incident


@transaction.atomic
def close(*, incident: Incident, actor, at: datetime | None = None) -> Incident:
    """resolved -> closed, unless a registered close guard refuses (e.g. postmortem missing)."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    if incident.status == Status.RESOLVED:
        refusals = close_refusals(incident)
        if refusals:
            raise Conflict(f"{incident.reference} cannot be closed yet: " + "; ".join(refusals))
    previous = _move(incident, Status.CLOSED, actor)
    incident.closed_at = when
    _save(incident, actor, ["status", "closed_at"])
    _status_event(incident, previous, actor, when, "")
    return incident


_BY_STATUS = {
    Status.IDENTIFIED: identify,
    Status.MONITORING: mitigate,
    Status.RESOLVED: resolve,
    Status.CLOSED: close,
}


def set_status(
    *, incident: Incident, actor, status: str, at: datetime | None = None, note: str = ""
) -> Incident:
    """Dispatch to the transition function for ``status`` (investigating means reopen)."""
    if status == Status.INVESTIGATING:
        return reopen(incident=incident, actor=actor, reason=note)
    if status not in _BY_STATUS:
        raise InvalidInput(f"Unknown status {status!r}.", field="status")
    fn = _BY_STATUS[status]
    if fn is close:
        return close(incident=incident, actor=actor, at=at)
    return fn(incident=incident, actor=actor, at=at, note=note)


# ---------------------------------------------------------------------------------------
# Severity
# ---------------------------------------------------------------------------------------
SEVERITY_FIELDS = (
    "name", "description", "examples", "ack_sla_mode", "ack_sla_minutes", "update_cadence_minutes",
    "pages_oncall", "postmortem_required", "postmortem_due_business_days",
)  # fmt: skip


@transaction.atomic
def update_severity(*, severity: Severity, actor, **fields) -> Severity:
    """Edit the severity guide (engineering managers). Levels themselves are fixed."""
    if actor is None or not (actor.is_superuser or actor.has_perm("incidents.change_severity")):
        raise NotAllowed("Only engineering managers edit the severity guide.")
    unknown = set(fields) - set(SEVERITY_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    severity = Severity.objects.select_for_update().get(pk=severity.pk)
    for name, value in fields.items():
        setattr(severity, name, value)
    if severity.ack_sla_mode == Severity.AckSla.NEXT_BUSINESS_DAY:
        severity.ack_sla_minutes = None
    elif not severity.ack_sla_minutes:
        raise InvalidInput("Give the acknowledge SLA in minutes.", field="ack_sla_minutes")
    if severity.postmortem_required and severity.postmortem_due_business_days is None:
        raise InvalidInput("Say when a required postmortem is due.", field="postmortem_due_business_days")
    severity._history_user = actor
    severity.save()
    return severity


@transaction.atomic
def change_severity(*, incident: Incident, actor, severity: Severity | int, reason: str = "") -> Incident:
    """Raise or lower the severity: a timeline event, a notification, and a page when the new
    severity pages on-call and the old one did not. Raising it above the incident's peak
    raises the peak; lowering never lowers it (the postmortem requirement follows the peak)."""
    _require_responder(actor)
    new = _severity(severity)
    incident = _lock(incident)
    if incident.status == Status.CLOSED:
        raise Conflict(f"{incident.reference} is closed: its severity can no longer change.")
    old = incident.severity
    if old.pk == new.pk:
        raise Conflict(f"{incident.reference} is already {new.label}.")
    incident.severity = new
    fields = ["severity"]
    if new.level < incident.peak_severity.level:
        incident.peak_severity = new
        fields.append("peak_severity")
    _save(incident, actor, fields)
    direction = "raised" if new.level < old.level else "lowered"
    event = add_timeline_event(
        incident=incident,
        kind=Kind.SEVERITY_CHANGED,
        text=f"Severity {direction} {old.label} -> {new.label}."
        + (f" {reason.strip()}" if reason.strip() else ""),
        actor=actor,
        data={"from": old.level, "to": new.level},
    )
    _notify(
        incident,
        event="severity_changed",
        key=f"incidents:{incident.pk}:severity:{event.pk}",
        actor=actor,
        extra=[["Previous severity", old.label]],
    )
    if new.pages_oncall and not old.pages_oncall and incident.is_open:
        _page_on_call(incident, "severity_raised")
    return incident


# ---------------------------------------------------------------------------------------
# Status updates, customer message, notes, details
# ---------------------------------------------------------------------------------------
@transaction.atomic
def post_update(
    *,
    incident: Incident,
    actor,
    audience: str,
    text: str,
    replace_customer_message: bool = False,
    at: datetime | None = None,
) -> StatusUpdate:
    """Post an internal or external status update; the next update is due one cadence later.
    An external update may replace the customer message support uses. ``at`` (default now)
    records an update given elsewhere earlier (importing history)."""
    _require_responder(actor)
    if audience not in StatusUpdate.Audience.values:
        raise InvalidInput(f"Unknown audience {audience!r}.", field="audience")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("The update needs text.", field="text")
    refuse_control_characters(text, field="text")  # external ones reach XML feeds and e-mail
    if replace_customer_message and audience != StatusUpdate.Audience.EXTERNAL:
        raise InvalidInput("Only an external update can replace the customer message.", field="audience")
    incident = _lock(incident)
    if incident.status == Status.CLOSED:
        raise Conflict(f"{incident.reference} is closed: post a note instead.")
    now = _when(at)
    if now < incident.detected_at:
        raise InvalidInput("An update cannot precede detection.", field="at")
    update = StatusUpdate.objects.create(
        incident=incident,
        audience=audience,
        text=text,
        author=actor,
        status=incident.status,
        replaced_customer_message=replace_customer_message,
        posted_at=now,
    )
    incident.last_update_at = max(now, incident.last_update_at or now)
    fields = ["last_update_at"]
    if replace_customer_message:
        incident.customer_message = text
        incident.customer_message_updated_at = now
        fields += ["customer_message", "customer_message_updated_at"]
    _save(incident, actor, fields)
    label = "External" if audience == StatusUpdate.Audience.EXTERNAL else "Internal"
    add_timeline_event(
        incident=incident,
        kind=Kind.STATUS_UPDATE,
        text=f"{label} update: {text}" + (" (now the customer message)" if replace_customer_message else ""),
        actor=actor,
        occurred_at=now,
        related=update,
    )
    return update


@transaction.atomic
def set_customer_message(*, incident: Incident, actor, text: str) -> Incident:
    """Replace the approved external wording support gives customers (empty clears it)."""
    _require_responder(actor)
    text = (text or "").strip()
    refuse_control_characters(text, field="text")
    incident = _lock(incident)
    if text == incident.customer_message:
        return incident
    now = timezone.now()
    incident.customer_message = text
    incident.customer_message_updated_at = now
    _save(incident, actor, ["customer_message", "customer_message_updated_at"])
    add_timeline_event(
        incident=incident,
        kind=Kind.CUSTOMER_MESSAGE,
        text=f"Customer message set: {text}" if text else "Customer message cleared.",
        actor=actor,
        occurred_at=now,
    )
    return incident


@transaction.atomic
def add_note(*, incident: Incident, actor, text: str, occurred_at: datetime | None = None) -> TimelineEvent:
    """A manual timeline note; ``occurred_at`` back-dates it when reconstructing events."""
    _require_responder(actor)
    return add_timeline_event(
        incident=incident, kind=Kind.NOTE, text=text, actor=actor, occurred_at=occurred_at
    )


@transaction.atomic
def link_chat_channel(*, incident: Incident, url: str, name: str) -> bool:
    """Automation (the chat adapter, layer 6): the incident's chat channel now exists at ``url``.
    Fills the channel link when it is blank (a link a person entered is kept) and records the
    channel on the timeline. Returns False when the link was already this one."""
    incident = _lock(incident)
    if incident.channel_url == url:
        return False
    text = f"Incident channel #{name} created."
    if not incident.channel_url:
        incident.channel_url = url
        _save(incident, None, ["channel_url"])
    else:
        text += f" The channel / meeting link ({incident.channel_url}) was kept."
    add_timeline_event(
        incident=incident,
        kind=Kind.DETAILS_CHANGED,
        text=text,
        data={"chat_channel": url, "fields": ["channel_url"]},
    )
    return True


EDITABLE_FIELDS = (
    "title", "summary", "customer_impact", "customers_affected", "channel_url", "tags", "drill",
    "detection_source", "started_at", "owning_team", "primary_service",
)  # fmt: skip


@transaction.atomic
def update_incident(
    *, incident: Incident, actor, services: Iterable[Service] | None = None, **fields
) -> Incident:
    """Edit descriptive fields (and ``started_at``, for reconstruction). Status, severity,
    roles, acknowledgement and the customer message have their own functions."""
    _require_responder(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"These fields are changed through their own actions: {', '.join(sorted(unknown))}."
        )
    incident = _lock(incident)
    if "title" in fields and not (fields["title"] or "").strip():
        raise InvalidInput("Give the incident a title.", field="title")
    if "title" in fields:
        refuse_control_characters(fields["title"], field="title")
    if "tags" in fields:
        fields["tags"] = _normalise_tags(fields["tags"] or "")
    if "detection_source" in fields and fields["detection_source"] not in Incident.DetectionSource.values:
        raise InvalidInput("Unknown detection source.", field="detection_source")
    if fields.get("started_at") is not None:
        fields["started_at"] = _when(fields["started_at"], field="started_at")
    elif "started_at" in fields:
        raise InvalidInput("Give the time impact began.", field="started_at")
    changed = [name for name, value in fields.items() if getattr(incident, name) != value]
    old_started = incident.started_at
    for name in changed:
        setattr(incident, name, fields[name])
    if changed:
        _save(incident, actor, changed)
    service_text = ""
    if services is not None:
        wanted = list(services)
        current = set(incident.services.all())
        if set(wanted) != current:
            incident._history_user = actor
            incident.services.set(wanted)
            service_text = "services: " + (", ".join(s.name for s in wanted) or "none")
    labels = [Incident._meta.get_field(n).verbose_name for n in changed if n != "started_at"]
    parts = ([f"{', '.join(labels)} edited"] if labels else []) + ([service_text] if service_text else [])
    if "started_at" in changed:
        parts.append(f"impact start corrected from {_fmt(old_started)} to {_fmt(incident.started_at)}")
    if parts:
        text = "; ".join(parts)
        add_timeline_event(
            incident=incident,
            kind=Kind.DETAILS_CHANGED,
            text=text[0].upper() + text[1:] + ".",
            actor=actor,
            data={"fields": changed + (["services"] if service_text else [])},
        )
    return incident


@transaction.atomic
def link_runbook(*, incident: Incident, runbook, actor, at: datetime | None = None) -> bool:
    """Record that ``runbook`` was used on this incident (timeline event at ``at``, default
    now). Returns False when it was already linked."""
    _require_responder(actor)
    when = _when(at)
    incident = _lock(incident)
    if incident.runbooks.filter(pk=runbook.pk).exists():
        return False
    incident._history_user = actor
    incident.runbooks.add(runbook)
    add_timeline_event(
        incident=incident,
        kind=Kind.RUNBOOK,
        text=f"Runbook used: {runbook.title}.",
        actor=actor,
        occurred_at=when,
        related=runbook,
    )
    return True


@transaction.atomic
def unlink_runbook(*, incident: Incident, runbook, actor) -> bool:
    _require_responder(actor)
    incident = _lock(incident)
    if not incident.runbooks.filter(pk=runbook.pk).exists():
        return False
    incident._history_user = actor
    incident.runbooks.remove(runbook)
    add_timeline_event(
        incident=incident,
        kind=Kind.RUNBOOK,
        text=f"Runbook unlinked: {runbook.title}.",
        actor=actor,
        related=runbook,
    )
    return True


@transaction.atomic
def add_reported_customers(*, incident: Incident, count: int = 1) -> int:
    """Count customers who reported the incident through support; returns the new total.
    A conditional F() update: concurrent reports never lose a count."""
    if count < 1:
        raise InvalidInput("Count at least one customer.", field="count")
    Incident.objects.filter(pk=incident.pk).update(
        reported_customers=F("reported_customers") + count, updated_at=timezone.now()
    )
    total = Incident.objects.filter(pk=incident.pk).values_list("reported_customers", flat=True).get()
    incident.reported_customers = total
    return total
