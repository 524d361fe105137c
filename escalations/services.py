"""Every state change of a support escalation. The form, the API, the admin, the reminder
rule, the tasks and the page receivers are thin adapters over these functions.

An escalation and the on-call page it was paged through settle each other, like an incident
and its page: acknowledging the escalation acknowledges the page (``via="escalation"``) and
acknowledging the page (link, admin, API) acknowledges the escalation; resolving the
escalation resolves the page, and a person resolving the page resolves the escalation (the
reply says so, and support is told). Linking a report to an incident stands its page down
(resolved, "Linked to INC-..."), which leaves the linked report as it is.

Lifecycle::

    new -> acknowledged -> resolved
      \\          \\-> linked (to an incident) -> resolved
       \\-> linked / resolved

Filing (``submit_escalation``) is accept-first, like an events API: one short transaction
that locks the catalog Service row writes the escalation (with its routed policy and SLA) and
either attaches it to the open incident on its service or runs surge detection (which may open
an incident and link the reports), so concurrent submissions for one service are serialised
and one surge opens exactly one incident. Paging the routed policy, telling the team about a
question, or paging for a surge's incident is ``dispatch``, run by a worker on commit
(``tasks.dispatch``); ``dispatched_at`` marks it done, so a redelivered task does nothing, and
the dispatch auditor (``dispatch_overdue``, beat) runs it for any filing whose task was lost to
a broker outage or a dead worker. Notifications go through the outbox either way.

One problem pages on-call once, not once per report (a burst of filings on one service):

- a report for a service with an open (non-drill) incident is attached to it - a *support
  report* on its timeline, its customers counted - and pages nobody (at filing, or at dispatch
  if the incident was opened in between). Neither the form nor the API can say "this is a
  different problem" (the form's *No - this is something new* is its preselected default, not
  a deliberate choice), so every such filing is attached;
- a blocked/degraded report whose service is already being paged, for another open report
  filed within the surge window, joins that page instead of opening its own (acknowledging the
  page acknowledges them all; resolving or linking one leaves the page calling for the rest);
- the surge's incident is paged once and stands the reports' page down.

So an on-call person gets at most two page messages for a burst (the reports' page, then the
incident's), and one when the surge forms before any report was dispatched. Dispatch locks the
service row like filing does (``FOR NO KEY UPDATE``, service first, then the escalation), so a
dispatch and a filing for one service never interleave.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from catalog.models import Service
from escalations import permissions
from escalations.models import MAX_CUSTOMERS, MAX_LINKS, Escalation, Impact, SupportSettings
from incidents import paging as incident_paging
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from notifications.services import notify
from oncall import selectors as oncall_selectors
from oncall import services as oncall_services
from oncall.models import EscalationPolicy, Page
from opsportal.errors import Conflict, InvalidInput, NotAllowed, ServiceError
from opsportal.links import absolute_url
from opsportal.text import strip_control_characters

log = logging.getLogger(__name__)

Status = Escalation.Status
LinkSource = Escalation.LinkSource

# A reported start this far in the future is a clock problem, not the future.
CLOCK_SKEW = timedelta(minutes=2)
OLDEST_START = timedelta(days=90)
MAX_TEXT = 5000
MAX_SHORT = 200
MAX_URL = 500

# Blocked and degraded customers page on-call at once; a question waits for business hours
# (the team hears about it) and only pages when its acknowledgement SLA is missed.
PAGING_IMPACTS = frozenset({Impact.BLOCKED, Impact.DEGRADED})


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
SETTINGS_FIELDS = (
    "triage_policy", "blocked_ack_minutes", "degraded_ack_minutes", "question_ack_minutes",
    "surge_threshold", "surge_window_minutes", "surge_severity", "duplicate_window_minutes",
)  # fmt: skip


def current_settings() -> SupportSettings:
    """The one settings row, created with its defaults if a database has none yet."""
    return SupportSettings.load()


@transaction.atomic
def update_settings(*, actor, **fields) -> SupportSettings:
    """Edit SLAs, surge detection and the triage policy (engineering managers)."""
    if not permissions.can_edit_settings(actor):
        raise NotAllowed("Only engineering managers edit the support settings.")
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown settings: {', '.join(sorted(unknown))}.")
    SupportSettings.load()
    row = SupportSettings.objects.select_for_update().get(pk=SupportSettings.SINGLETON)
    for name, value in fields.items():
        setattr(row, name, value)
    for name in ("blocked_ack_minutes", "degraded_ack_minutes", "question_ack_minutes"):
        value = getattr(row, name)
        if value is not None and value < 1:
            raise InvalidInput("An SLA is at least one minute (or empty for next business day).", field=name)
    if not 2 <= row.surge_threshold <= 1000:
        raise InvalidInput("The surge threshold is between 2 and 1000 escalations.", field="surge_threshold")
    if not 1 <= row.surge_window_minutes <= 1440:
        raise InvalidInput("The surge window is between 1 and 1440 minutes.", field="surge_window_minutes")
    if not 0 <= row.duplicate_window_minutes <= 7 * 24 * 60:
        raise InvalidInput(
            "The duplicate window is between 0 (off) and 10080 minutes (a week).",
            field="duplicate_window_minutes",
        )
    if not 1 <= row.surge_severity <= 4:
        raise InvalidInput("The surge severity is a level from 1 to 4.", field="surge_severity")
    row._history_user = actor
    row.save()
    return row


# ---------------------------------------------------------------------------------------
# Validation shared by every way in (the form validates the same rules first)
# ---------------------------------------------------------------------------------------
def _text(value, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{label} is required.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{label} is at most {max_length} characters.", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{label} contains a null character.", field=field)
    return value


def clean_started_at(started_at: datetime | None, now: datetime) -> datetime | None:
    if started_at is None:
        return None
    if timezone.is_naive(started_at):
        raise InvalidInput("Give the start time with a time zone.", field="started_at")
    if started_at > now + CLOCK_SKEW:
        raise InvalidInput("The start time is in the future.", field="started_at")
    if started_at < now - OLDEST_START:
        raise InvalidInput(
            "The start time is more than 90 days ago; open a ticket instead.", field="started_at"
        )
    return started_at


def clean_links(links: Iterable[str]) -> list[str]:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    validate = URLValidator(schemes=["http", "https"])
    out: list[str] = []
    for raw in links or []:
        link = str(raw).strip()
        if not link:
            continue
        if len(link) > MAX_URL:
            raise InvalidInput(f"A link is at most {MAX_URL} characters.", field="links")
        try:
            validate(link)
        except ValidationError:
            raise InvalidInput(
                f"{link[:80]!r} is not a web address (http:// or https://).", field="links"
            ) from None
        if link not in out:
            out.append(link)
    if len(out) > MAX_LINKS:
        raise InvalidInput(f"Give at most {MAX_LINKS} links.", field="links")
    return out


def _clean_report(*, customer, contact, summary, impact, customers_reporting, started_at, links, now) -> dict:
    if impact not in Impact.values:
        raise InvalidInput("Pick the customer impact.", field="impact")
    try:
        count = int(customers_reporting)
    except (TypeError, ValueError):
        raise InvalidInput("Give the number of customers reporting.", field="customers_reporting") from None
    if not 1 <= count <= MAX_CUSTOMERS:
        raise InvalidInput(f"Between 1 and {MAX_CUSTOMERS} customers.", field="customers_reporting")
    return {
        "customer": _text(customer, field="customer", label="Customer", max_length=MAX_SHORT),
        "contact": _text(contact, field="contact", label="Contact", max_length=MAX_SHORT),
        "summary": _text(summary, field="summary", label="What the customer sees", max_length=MAX_TEXT),
        "impact": impact,
        "customers_reporting": count,
        "started_at": clean_started_at(started_at, now),
        "links": clean_links(links),
    }


# ---------------------------------------------------------------------------------------
# Filing
# ---------------------------------------------------------------------------------------
def route(service: Service | None, config: SupportSettings) -> EscalationPolicy | None:
    """The service's policy (its own, else its team's default), else the triage policy."""
    policy = oncall_selectors.policy_for_service(service) if service is not None else None
    return policy or config.triage_policy


def submit_escalation(
    *,
    reporter,
    customer: str,
    contact: str,
    service: Service | None,
    summary: str,
    impact: str,
    customers_reporting: int = 1,
    started_at: datetime | None = None,
    links: Iterable[str] = (),
) -> Escalation:
    """File a new escalation: route it (policy and SLA), run surge detection, and have on-call
    paged (or the team told) by a worker once it is committed (``dispatch``).

    ``service=None`` means "not sure": the support-triage policy handles it (and it never
    counts towards a surge). A report for a service that has an open incident is attached to
    it instead (linked, nothing to dispatch). Returns the escalation; ``escalation.incident``
    is set when it was attached, or when this report completed a surge and opened an incident.
    """
    if not permissions.can_file(reporter):
        raise NotAllowed("Only support staff and engineers file escalations.")
    now = timezone.now()
    data = _clean_report(
        customer=customer, contact=contact, summary=summary, impact=impact,
        customers_reporting=customers_reporting, started_at=started_at, links=links, now=now,
    )  # fmt: skip
    with transaction.atomic():
        config = SupportSettings.load()
        if service is not None:
            # Serialise filings per service: surge detection below counts the recent reports
            # of this service, and the second of two concurrent filings must see the first.
            # NO KEY UPDATE: it excludes the next filing but not the KEY SHARE lock another
            # transaction's insert takes on the service through a foreign key (a worker opening
            # a page for the service), which would otherwise wait behind it - and deadlock once
            # this filing waits for that worker's escalation row in surge detection.
            service = (
                Service.objects.select_for_update(of=("self",), no_key=True)
                .select_related("owner_team__manager")
                .filter(pk=service.pk)
                .first()
            )
            if service is None:
                raise InvalidInput("That service no longer exists; pick another one.", field="service")
            now = timezone.now()  # after the wait: this report's place in the window
        policy = route(service, config)
        escalation = Escalation(
            reporter=reporter,
            service=service,
            created_at=now,
            ack_due_at=config.ack_due_at(impact, now),
            policy=policy,
            **data,
        )
        escalation._history_user = reporter
        escalation.save()
        if service is not None:
            incident = _open_incident_on(service) or _detect_surge(escalation, config, now)
            if incident is not None and escalation.incident_id is None:
                escalation.dispatched_at = now  # the incident's response has it: nobody to page
                _attach(
                    escalation,
                    incident,
                    actor=reporter,
                    source=LinkSource.SUPPORT,
                    now=now,
                    count=True,
                    automatic=True,
                )
        if escalation.dispatched_at is None:
            _enqueue_dispatch(escalation.pk)
    return escalation


def _open_incident_on(service: Service) -> Incident | None:
    """The open, real (not drill) incident a report about ``service`` belongs to, row-locked:
    one centred on the service first, then the most severe, then the oldest. Found first and
    locked second, re-checked open after the lock (it may have been resolved while we waited)."""
    found = list(
        Incident.objects.open()
        .real()
        .filter(services=service)
        .order_by(
            Case(When(primary_service=service, then=Value(0)), default=Value(1)),
            "severity__level",
            "detected_at",
            "pk",
        )
        .values_list("pk", flat=True)[:5]
    )
    for pk in found:
        locked = Incident.objects.open().select_for_update().filter(pk=pk).first()
        if locked is not None:
            return locked
    return None


def _title(escalation: Escalation) -> str:
    impact = Impact(escalation.impact).label.split(" - ")[0]
    where = escalation.service.name if escalation.service else "service unknown"
    return f"[Support] {impact}: {where} - {escalation.customer}"[:200]


def _fields(escalation: Escalation, config: SupportSettings | None = None) -> list[list[str]]:
    return [
        ["Customer", escalation.customer],
        ["Contact", escalation.contact],
        ["Impact", Impact(escalation.impact).label],
        ["Service", escalation.service.name if escalation.service else "Not sure (support triage)"],
        ["Customers reporting", str(escalation.customers_reporting)],
        ["Acknowledge by", f"{escalation.ack_due_at:%Y-%m-%d %H:%M} UTC"],
        ["Filed by", str(escalation.reporter)],
    ]


def _page(escalation: Escalation, policy: EscalationPolicy | None) -> Page | None:
    """Page the routed policy about this escalation (outbox: delivered after commit).
    Without a policy nobody is paged; the triage list shows it."""
    if policy is None:
        log.warning(
            "escalation %s: no escalation policy to page (set a support-triage policy)", escalation.pk
        )
        return None
    try:
        page = oncall_services.open_page(
            title=_title(escalation),
            summary=escalation.summary,
            url=absolute_url(escalation.get_absolute_url()),
            service=escalation.service,
            policy=policy,
            subject=escalation,
            dedup_key=f"escalations:{escalation.pk}",
        )
    except ServiceError as exc:  # e.g. a policy without levels: keep the report, say why
        log.warning("escalation %s: could not page %s: %s", escalation.pk, policy, exc.message)
        return None
    escalation.page = page  # the caller saves the (locked) escalation
    return page


def _team_people(escalation: Escalation, policy: EscalationPolicy | None) -> list:
    team = escalation.service.owner_team if escalation.service else (policy.team if policy else None)
    if team is None:
        return []
    people: list = []
    if team.manager is not None and team.manager.is_active:
        people.append(team.manager)
    if team.email:
        people.append(team.email)
    return people


def _tell_team(escalation: Escalation, policy: EscalationPolicy | None) -> bool:
    """A question: the owning team (manager, mailing list) hears about it; no page yet.
    False when the team has nobody to tell."""
    recipients = _team_people(escalation, policy)
    if not recipients:
        return False
    url = absolute_url(escalation.get_absolute_url())
    notify(
        recipients=recipients,
        kind="update",
        template="escalations/new",
        context={
            "title": f"{escalation.reference} {_title(escalation)}",
            "url": url,
            "summary": escalation.summary,
            "fields": _fields(escalation),
            "actions": [["Triage", url]],
        },
        idempotency_key=f"escalations:{escalation.pk}:new",
        related=escalation,
    )
    return True


# ---------------------------------------------------------------------------------------
# Dispatch: paging on-call (or telling the team) once the filing is committed
# ---------------------------------------------------------------------------------------
# The auditor leaves a filing this long to its own on-commit task before running it itself.
DISPATCH_GRACE = timedelta(seconds=30)
DISPATCH_BATCH = 500


def _enqueue_dispatch(escalation_id: int) -> None:
    """After commit, hand the filing to a worker. A broker outage must not turn the agent's
    committed filing into an error: the auditor dispatches it once the broker is back."""
    from escalations import tasks

    def publish() -> None:
        try:
            tasks.dispatch.apply_async(args=[escalation_id])
        except Exception:
            log.exception("escalation %s: could not enqueue paging; the dispatch auditor will", escalation_id)

    transaction.on_commit(publish)


def dispatch(*, escalation_id: int) -> str:
    """Page the routed policy (blocked, degraded) or tell the owning team (a question) about a
    filed escalation, exactly once: under the escalation's row lock, ``dispatched_at`` set
    means done, so a redelivered task or the auditor does nothing the second time. A report
    that completed a surge pages on-call for its incident instead. Nothing to do when
    someone acknowledged, linked or resolved it first. A report whose service has an open
    incident by now is attached to it, and one whose service is being paged about another
    recent report joins that page (see the module docstring). Returns what it did."""
    service_id = Escalation.objects.filter(pk=escalation_id).values_list("service_id", flat=True).first()
    with transaction.atomic():
        if service_id is not None:
            # The service first, like filing (never the escalation first: a filing holding the
            # service may be waiting for this escalation's row in surge detection). Filings
            # and dispatches for one service take turns, so each sees the page or incident the
            # one before opened.
            Service.objects.select_for_update(no_key=True).filter(pk=service_id).values_list("pk").first()
        escalation = (
            Escalation.objects.select_for_update(of=("self",))
            # only what no other transaction changes: joined rows are not re-read after a lock wait
            .select_related("service__owner_team__manager", "policy__team__manager", "reporter")
            .filter(pk=escalation_id)
            .first()
        )
        if escalation is None:
            return "no such escalation"
        if escalation.dispatched_at is not None:
            return "already dispatched"
        # Paged already: by the SLA rule, or by a filing made before dispatching existed.
        if escalation.page_id is not None:
            outcome = "already paged"
        elif escalation.status == Status.NEW:
            incident = _open_incident_on(escalation.service) if escalation.service_id else None
            if incident is not None:
                now = timezone.now()
                _attach(
                    escalation,
                    incident,
                    actor=escalation.reporter,
                    source=LinkSource.SUPPORT,
                    now=now,
                    count=True,
                    automatic=True,
                )
                outcome = f"attached to {incident.reference}"
            elif escalation.impact in PAGING_IMPACTS:
                joined = _join_running_page(escalation)
                if joined is not None:
                    outcome = f"joined the page of {joined}"
                else:
                    outcome = "paged" if _page(escalation, escalation.policy) else "no policy to page"
            else:
                outcome = "team told" if _tell_team(escalation, escalation.policy) else "nobody to tell"
        elif escalation.linked_by == LinkSource.SURGE:
            outcome = _respond_to_surge(escalation)
        else:
            outcome = f"not needed ({escalation.get_status_display().lower()} first)"
        escalation.dispatched_at = timezone.now()
        escalation._history_user = None
        escalation.save(update_fields=["dispatched_at", "page", "updated_at"])
    return outcome


def _join_running_page(escalation: Escalation) -> str | None:
    """Point the (locked) escalation at the open page of another open, unlinked report for the
    same service and policy filed within the surge window before it, and return that report's
    reference; None when there is none. Nobody is notified again: on-call already is."""
    if escalation.service_id is None or escalation.policy_id is None:
        return None
    window = timedelta(minutes=SupportSettings.load().surge_window_minutes)
    running = (
        Escalation.objects.filter(
            service_id=escalation.service_id,
            incident__isnull=True,  # with service and created_at: the escalations_surge_window index
            created_at__gte=escalation.created_at - window,
            created_at__lte=escalation.created_at,
            policy_id=escalation.policy_id,
            status__in=[Status.NEW, Status.ACKNOWLEDGED],
            page__status__in=Page.OPEN,
        )
        .exclude(pk=escalation.pk)
        .order_by("created_at", "pk")
        .values_list("pk", "page_id")
        .first()
    )
    if running is None:
        return None
    other_pk, page_id = running
    # Locked and re-checked: a triager resolving the other report releases the page under
    # this lock, and counts this report once this transaction commits.
    page = Page.objects.select_for_update().filter(pk=page_id, status__in=Page.OPEN).first()
    if page is None:
        return None
    escalation.page = page  # the caller saves the (locked) escalation
    return f"ESC-{other_pk}"


def _respond_to_surge(escalation: Escalation) -> str:
    """A surge's incident: page on-call for it, and stand down the pages its reports had of
    their own. Runs once per surge: only the report that completed it is left undispatched
    (``_detect_surge`` settles the others); a page the incident already has - its severity
    pages when declared - counts."""
    incident = Incident.objects.select_for_update().get(pk=escalation.incident_id)
    if not incident.is_open:
        said = "incident no longer open, not paged"
    elif Page.objects.filter(dedup_key=incident_paging.dedup_key(incident)).exists():
        said = "incident already paged"
    elif _page_incident(incident, escalation.service, escalation.policy) is not None:
        said = "incident paged"
    else:
        said = "nobody paged for the incident"
    pages = Page.objects.filter(
        pk__in=Escalation.objects.filter(
            incident=incident, linked_by=LinkSource.SURGE, page__status__in=Page.OPEN
        ).values("page_id")
    ).order_by("pk")
    stood_down = sum(_stand_down(page, incident, None) for page in pages)
    return f"{said}, {stood_down} report page(s) stood down"


def dispatch_overdue(*, now: datetime | None = None) -> dict[int, str]:
    """Auditor (beat): dispatch every filing still waiting past the grace period, oldest
    first - their tasks were lost (broker down at commit, worker killed). Safe to run twice
    at once: ``dispatch`` locks and re-checks each row."""
    now = now or timezone.now()
    waiting = list(
        Escalation.objects.filter(dispatched_at__isnull=True, created_at__lte=now - DISPATCH_GRACE)
        .order_by("created_at", "id")  # served by the partial index escalations_undispatched
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )
    if waiting:
        log.warning("dispatching %d escalation(s) whose paging task was lost", len(waiting))
    outcomes: dict[int, str] = {}
    for pk in waiting:
        try:
            outcomes[pk] = dispatch(escalation_id=pk)
        except Exception as exc:  # one bad row must not hold back every filing behind it
            log.exception("escalation %s: dispatch failed; the auditor retries it next run", pk)
            outcomes[pk] = f"failed: {type(exc).__name__}"
    return outcomes


# ---------------------------------------------------------------------------------------
# Surge detection
# ---------------------------------------------------------------------------------------
def _detect_surge(escalation: Escalation, config: SupportSettings, now: datetime) -> Incident | None:
    """N unlinked, unresolved reports for the service within M minutes and no open (real)
    incident covering it: open one incident and link the reports (on-call is paged for it by
    this filing's dispatch), and return it. The caller found no open incident first; one found
    after waiting for the reports' locks (an engineer opened it meanwhile) is returned unlinked,
    for the caller to attach this report to.

    The caller holds the lock on the service row, so this check-then-act is race-free.
    """
    service = escalation.service
    window_start = now - timedelta(minutes=config.surge_window_minutes)
    in_window = (
        Escalation.objects.filter(
            service=service, incident__isnull=True, created_at__gte=window_start, created_at__lte=now
        )
        .exclude(status=Status.RESOLVED)
        .order_by("created_at", "id")
    )
    # Cheap check first: at most N ids. Most filings stop here.
    if len(in_window.values_list("pk", flat=True)[: config.surge_threshold]) < config.surge_threshold:
        return None
    # Locked: a report whose dispatch is running right now is read once that has committed.
    recent = list(in_window.select_related("reporter").select_for_update(of=("self",), no_key=True))
    # Re-checked after the lock: while this waited, an engineer may have opened an incident
    # from one of these reports (it then left the window) - the next statement sees that.
    opened_meanwhile = _open_incident_on(service)
    if opened_meanwhile is not None:
        return opened_meanwhile
    if len(recent) < config.surge_threshold:
        return None
    detected = recent[0].created_at
    starts = [e.started_at for e in recent if e.started_at is not None]
    started = min([*starts, detected])
    customers = sum(e.customers_reporting for e in recent)
    summary = "\n".join(f"- {e.customer}: {e.summary[:300]}" for e in recent)
    incident = incident_services.declare_incident(
        title=strip_control_characters(f"Customers report problems with {service.name}")[:200],
        severity=config.surge_severity,
        services=[service],
        actor=None,
        detection_source=Incident.DetectionSource.SUPPORT,
        detected_at=detected,
        started_at=started,
        summary=(
            f"Opened by surge detection: {len(recent)} support escalations for {service.name} "
            f"within {config.surge_window_minutes} minutes.\n\n{summary}"
        )[:5000],
        customer_impact=recent[0].summary,
    )
    for report in recent:
        if report.pk != escalation.pk and report.dispatched_at is None:
            report.dispatched_at = now  # swept in before its own dispatch ran: nothing left for it
    _link_surge(recent, incident, now)
    incident_services.add_reported_customers(incident=incident, count=customers)
    # Paging on-call for the incident and standing down the reports' own pages is this
    # filing's dispatch (``_respond_to_surge``, on commit): the filing stays short.
    # This report is one of ``recent``: take its linked state from there (no re-read).
    linked = next(r for r in recent if r.pk == escalation.pk)
    for field in ("incident", "status", "linked_by", "updated_at"):
        setattr(escalation, field, getattr(linked, field))
    return incident


def _page_incident(incident: Incident, service: Service, policy: EscalationPolicy | None) -> Page | None:
    if policy is None:
        incident_services.add_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.NOTE,
            text="Nobody was paged: the service has no escalation policy and no support-triage policy is set.",
        )
        return None
    try:
        page = oncall_services.open_page(
            title=f"{incident.reference} {incident.title}",
            summary=incident.summary,
            url=absolute_url(incident.get_absolute_url()),
            service=service,
            policy=policy,
            subject=incident,
            dedup_key=incident_paging.dedup_key(incident),  # one page per incident, whoever opens it
        )
    except ServiceError as exc:
        log.warning("surge incident %s: could not page %s: %s", incident.pk, policy, exc.message)
        return None
    incident_services.add_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.PAGE,
        text=f"Paged on-call through {policy.name} (support surge).",
        related=page,
    )
    return page


# ---------------------------------------------------------------------------------------
# Attaching a report to an incident
# ---------------------------------------------------------------------------------------
LINKED_FIELDS = [
    "incident", "status", "linked_by", "acknowledged_at", "acknowledged_by", "dispatched_at", "updated_at",
]  # fmt: skip


def _mark_linked(escalation: Escalation, incident: Incident, *, actor, source: str, now: datetime) -> None:
    escalation.incident = incident
    escalation.status = Status.LINKED
    escalation.linked_by = source
    escalation.updated_at = now
    if source == LinkSource.ENGINEERING and escalation.acknowledged_at is None:
        escalation.acknowledged_at = now
        escalation.acknowledged_by = actor


def _report_event(
    escalation: Escalation, incident: Incident, *, actor, source: str, now: datetime, automatic: bool = False
) -> dict:
    """The incident timeline's *support report* entry for a linked escalation."""
    who = {
        LinkSource.SUPPORT: f"{escalation.reporter} (support) attached a customer report",
        LinkSource.SURGE: "Surge detection linked a customer report",
        LinkSource.ENGINEERING: f"{actor} linked support escalation {escalation.reference}",
    }[source]
    if automatic:
        who = (
            f"Customer report {escalation.reference} from {escalation.reporter} (support) attached "
            f"automatically: {incident.reference} is open on {escalation.service}"
        )
    return {
        "incident": incident,
        "kind": TimelineEvent.Kind.SUPPORT_REPORT,
        "text": (
            f"{who}: {escalation.customer} - {escalation.summary[:300]} "
            f"({Impact(escalation.impact).label.split(' - ')[0].lower()}, "
            f"{escalation.customers_reporting} customer{'s' if escalation.customers_reporting != 1 else ''})."
        ),
        "actor": actor,
        "occurred_at": min(escalation.created_at, now),
        "related": escalation,
        "data": {
            "escalation": escalation.pk,
            "customers": escalation.customers_reporting,
            "source": source,
            **({"automatic": True} if automatic else {}),
        },
    }


def _attach(
    escalation: Escalation,
    incident: Incident,
    *,
    actor,
    source: str,
    now: datetime,
    count: bool = False,
    automatic: bool = False,
) -> None:
    """Link the (locked or freshly created) escalation to the incident: timeline event, and
    the escalation's own page resolved: the incident's response takes over. ``automatic``:
    the portal attached a filing to the open incident on its service."""
    _mark_linked(escalation, incident, actor=actor, source=source, now=now)
    escalation._history_user = actor
    escalation.save(update_fields=LINKED_FIELDS)
    incident_services.add_timeline_event(
        **_report_event(escalation, incident, actor=actor, source=source, now=now, automatic=automatic)
    )
    if count:
        incident_services.add_reported_customers(incident=incident, count=escalation.customers_reporting)
    _stand_down(escalation.page, incident, actor)


def _link_surge(reports: list[Escalation], incident: Incident, now: datetime) -> None:
    """Link a surge's (locked) reports at once: one UPDATE, one INSERT of their history rows
    and one of their timeline entries. Their own pages are stood down by the dispatch."""
    for report in reports:
        _mark_linked(report, incident, actor=None, source=LinkSource.SURGE, now=now)
    bulk_update_with_history(reports, Escalation, LINKED_FIELDS, default_date=now)
    incident_services.add_timeline_events(
        _report_event(report, incident, actor=None, source=LinkSource.SURGE, now=now) for report in reports
    )


def _stand_down(page: Page | None, incident: Incident, actor) -> bool:
    """Resolve a linked escalation's page: the incident's response takes over."""
    return _release_page(page, actor=actor, reason=f"Linked to {incident.reference}")


def _release_page(page: Page | None, *, actor, reason: str) -> bool:
    """Resolve an escalation's page once no open (new or acknowledged) report is paged through
    it any more: reports of one service share a page (``_join_running_page``). The caller has
    already saved its escalation as linked or resolved. Locked first, counted second, so a
    report joining the page meanwhile is counted. False when the page stays or was resolved."""
    if page is None or page.status not in Page.OPEN:
        return False
    if Page.objects.select_for_update().filter(pk=page.pk, status__in=Page.OPEN).first() is None:
        return False
    if Escalation.objects.filter(page_id=page.pk, status__in=[Status.NEW, Status.ACKNOWLEDGED]).exists():
        return False
    try:
        oncall_services.resolve_page(page=page, user=actor, reason=reason)
    except Conflict:  # resolved meanwhile: nothing left to stop
        return False
    return True


def attach_to_incident(
    *,
    reporter,
    incident: Incident | int,
    customer: str,
    contact: str,
    summary: str,
    impact: str,
    customers_reporting: int = 1,
    started_at: datetime | None = None,
    links: Iterable[str] = (),
) -> Escalation:
    """Support attaches a customer report to an open incident instead of escalating anew:
    recorded (linked), a timeline event, and the incident's reported-customers count grows."""
    if not permissions.can_file(reporter):
        raise NotAllowed("Only support staff and engineers file escalations.")
    now = timezone.now()
    data = _clean_report(
        customer=customer, contact=contact, summary=summary, impact=impact,
        customers_reporting=customers_reporting, started_at=started_at, links=links, now=now,
    )  # fmt: skip
    pk = incident.pk if isinstance(incident, Incident) else incident
    with transaction.atomic():
        found = (
            Incident.objects.open()
            .real()
            .select_for_update(of=("self",))
            .select_related("primary_service")
            .filter(pk=pk)
            .first()
        )
        if found is None:
            raise InvalidInput(
                "That incident is no longer open; file a new escalation instead.", field="incident"
            )
        config = SupportSettings.load()
        escalation = Escalation(
            reporter=reporter,
            service=found.primary_service,
            created_at=now,
            ack_due_at=config.ack_due_at(impact, now),
            dispatched_at=now,  # the incident's response has it: nobody to page
            **data,
        )
        escalation._history_user = reporter
        escalation.save()
        _attach(escalation, found, actor=reporter, source=LinkSource.SUPPORT, now=now, count=True)
    return escalation


# ---------------------------------------------------------------------------------------
# Triage (admin) transitions
# ---------------------------------------------------------------------------------------
def _lock(escalation: Escalation | int) -> Escalation:
    """The escalation, row-locked. Locked first, read second: when the lock had to wait,
    PostgreSQL re-reads the locked row but joins the other tables' rows from the statement's
    old snapshot - a page the dispatch holding the lock just opened would read as none, and
    that page would keep escalating for a handled report. The read after the lock sees it."""
    pk = escalation.pk if isinstance(escalation, Escalation) else escalation
    Escalation.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True).get()
    return Escalation.objects.select_related(
        "page", "incident", "reporter", "acknowledged_by", "service"
    ).get(pk=pk)


def _require_triage(actor) -> None:
    if not permissions.can_triage(actor):
        raise NotAllowed("Only responders and engineering managers triage escalations.")


def _closed_message(escalation: Escalation) -> str:
    if escalation.status == Status.RESOLVED:
        return f"{escalation.reference} is already resolved."
    return f"{escalation.reference} is already linked to {escalation.incident.reference}."


@transaction.atomic
def acknowledge(*, escalation: Escalation | int, actor, via: str = "escalation") -> Escalation:
    """new -> acknowledged; also acknowledges its page so escalation stops. Race-safe: the
    second acknowledger gets a Conflict naming the first."""
    _require_triage(actor)
    escalation = _lock(escalation)
    if escalation.status == Status.ACKNOWLEDGED:
        raise Conflict(
            f"{escalation.reference} was already acknowledged by {escalation.acknowledged_by} "
            f"at {escalation.acknowledged_at:%Y-%m-%d %H:%M} UTC."
        )
    if escalation.status != Status.NEW:
        raise Conflict(_closed_message(escalation))
    now = timezone.now()
    escalation.status = Status.ACKNOWLEDGED
    escalation.acknowledged_by = actor
    escalation.acknowledged_at = now
    escalation._history_user = actor
    escalation.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "updated_at"])
    page = escalation.page
    if page is not None and page.status in (Page.Status.TRIGGERED, Page.Status.EXHAUSTED):
        # someone acknowledging the page meanwhile is fine: the escalation is acknowledged either way
        with contextlib.suppress(Conflict):
            oncall_services.acknowledge_page(page=page, user=actor, via=via)
    return escalation


@transaction.atomic
def acknowledge_from_page(*, page: Page, user, at: datetime) -> list[Escalation]:
    """Receiver side of ``oncall.signals.page_acknowledged``: acknowledging the page (web
    link, admin, API) acknowledges the escalations paged through it (a linked one keeps its
    status and records who). Idempotent; returns those it acknowledged."""
    waiting = list(
        Escalation.objects.select_for_update()
        .filter(page_id=page.pk, acknowledged_at__isnull=True)
        .order_by("pk")
    )
    for escalation in waiting:
        escalation.acknowledged_by = user
        escalation.acknowledged_at = max(at, escalation.created_at)
        fields = ["acknowledged_by", "acknowledged_at", "updated_at"]
        if escalation.status == Status.NEW:
            escalation.status = Status.ACKNOWLEDGED
            fields.append("status")
        escalation._history_user = user
        escalation.save(update_fields=fields)
    return waiting


@transaction.atomic
def link_to_incident(*, escalation: Escalation | int, incident: Incident, actor) -> Escalation:
    """Engineering links an escalation to an incident (acknowledging it if nobody had)."""
    _require_triage(actor)
    escalation = _lock(escalation)
    if escalation.status in (Status.LINKED, Status.RESOLVED):
        raise Conflict(_closed_message(escalation))
    incident = Incident.objects.filter(pk=incident.pk).first()
    if incident is None or incident.status == Incident.Status.CLOSED:
        raise InvalidInput("Pick an incident that is not closed.", field="incident")
    _attach(escalation, incident, actor=actor, source=LinkSource.ENGINEERING, now=timezone.now(), count=True)
    return escalation


@transaction.atomic
def open_incident(
    *, escalation: Escalation | int, actor, severity: int | None = None, title: str = ""
) -> Incident:
    """Declare an incident from an escalation (detected when it was filed, started when the
    customer says) and link the escalation to it."""
    _require_triage(actor)
    escalation = _lock(escalation)
    if escalation.status in (Status.LINKED, Status.RESOLVED):
        raise Conflict(_closed_message(escalation))
    if escalation.service is None:
        raise InvalidInput(
            f"{escalation.reference} has no service (the agent was not sure): link it to an incident instead.",
            field="service",
        )
    config = SupportSettings.load()
    started = (
        escalation.started_at
        if escalation.started_at and escalation.started_at < escalation.created_at
        else None
    )
    incident = incident_services.declare_incident(
        title=(title or "").strip()
        or strip_control_characters(f"{escalation.service.name}: {escalation.summary.splitlines()[0][:150]}"),
        severity=severity or config.surge_severity,
        services=[escalation.service],
        actor=actor,
        detection_source=Incident.DetectionSource.SUPPORT,
        detected_at=escalation.created_at,
        started_at=started,
        customer_impact=escalation.summary,
    )
    _attach(escalation, incident, actor=actor, source=LinkSource.ENGINEERING, now=timezone.now(), count=True)
    return incident


@transaction.atomic
def resolve(*, escalation: Escalation | int, actor, reply: str) -> Escalation:
    """Close the escalation with a reply support sees (and is told about); its page stops."""
    _require_triage(actor)
    reply = _text(reply, field="reply", label="The reply to support", max_length=MAX_TEXT)
    escalation = _lock(escalation)
    if escalation.status == Status.RESOLVED:
        raise Conflict(_closed_message(escalation))
    _close(escalation, actor, reply, timezone.now())
    _release_page(escalation.page, actor=actor, reason=f"{escalation.reference} resolved")
    return escalation


@transaction.atomic
def resolve_from_page(*, page: Page, user, at: datetime, reason: str = "") -> list[Escalation]:
    """Receiver side of ``oncall.signals.page_resolved``: a person resolving the page (admin,
    API) resolves the open escalations paged through it, with a reply that says so. A page
    resolved by automation (``user`` None), or by this app (the escalation was resolved or
    linked first), settles nothing more. Idempotent."""
    if user is None:
        return []
    reason = (reason or "").strip()
    reply = f"Resolved by {user} from the on-call page" + (f": {reason}" if reason else ".")
    open_ones = list(
        Escalation.objects.select_for_update(of=("self",))
        .select_related("reporter")
        .filter(page_id=page.pk, status__in=[Status.NEW, Status.ACKNOWLEDGED])
        .order_by("pk")
    )
    for escalation in open_ones:
        _close(escalation, user, reply, max(at, escalation.created_at))
    return open_ones


def _close(escalation: Escalation, actor, reply: str, now: datetime) -> None:
    """Resolve the locked escalation with ``reply`` and tell its reporter."""
    escalation.status = Status.RESOLVED
    escalation.resolved_by = actor
    escalation.resolved_at = now
    escalation.reply = reply
    if escalation.acknowledged_at is None:
        escalation.acknowledged_by = actor
        escalation.acknowledged_at = now
    escalation._history_user = actor
    escalation.save()
    url = absolute_url("/support/")
    notify(
        recipients=[escalation.reporter],
        kind="update",
        template="escalations/resolved",
        context={
            "title": f"{escalation.reference} ({escalation.customer}) resolved by {actor}",
            "url": url,
            "reply": reply,
            "fields": [["Customer", escalation.customer], ["Resolved by", str(actor)]],
            "actions": [["Your escalations", url]],
        },
        idempotency_key=f"escalations:{escalation.pk}:resolved",
        related=escalation,
    )


# ---------------------------------------------------------------------------------------
# SLA breach (reminder rule action)
# ---------------------------------------------------------------------------------------
def escalate_overdue(*, escalation_id: int) -> str:
    """Run once by the reminder sweep when an escalation is still new past its SLA:
    a page that nobody acknowledged moves to its policy's next level now; an escalation that
    did not page (a question, no policy at filing, or its dispatch still waiting) pages its
    policy now.
    Returns what it did (for logs and tests)."""
    with transaction.atomic():
        escalation = _lock(escalation_id)
        if escalation.status != Status.NEW:
            return "not needed"
        page = escalation.page
        if page is not None and page.status == Page.Status.TRIGGERED and page.step_token:
            advanced = oncall_services.advance_page(page_id=page.pk, step_token=page.step_token)
            return "escalated to the next level" if advanced else "page already moved on"
        if page is not None and page.status in Page.OPEN:
            return "page exhausted or acknowledged"
        escalation.policy = escalation.policy or route(escalation.service, SupportSettings.load())
        paged = _page(escalation, escalation.policy) is not None
        escalation.dispatched_at = escalation.dispatched_at or timezone.now()  # nothing left to dispatch
        escalation._history_user = None
        escalation.save(update_fields=["policy", "page", "dispatched_at", "updated_at"])
        return "paged" if paged else "no policy to page"
