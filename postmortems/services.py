"""Every state change of postmortems and action items. Admin, API, tasks and demo come through here.

Lifecycle of a postmortem::

    draft -> in_review -> (approved by a reviewer who is not the owner) -> published
      ^__________|  (changes requested)

Editing a section after approval withdraws the approval (the reviewer approved other words).
Publishing records who and when, and lets the incident close (see ``close_guard``).
Action items: open -> in_progress -> done | won't do (with a reason); reopening is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from opsportal import timeutil
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_url
from opsportal.quiet import is_quiet, quiet  # noqa: F401  (services.quiet() imports history)
from postmortems import permissions, prefill
from postmortems.models import (
    REVIEW_CHECKLIST_KEYS,
    SECTION_FIELDS,
    ActionItem,
    Holiday,
    Postmortem,
)

DEFAULT_DUE_BUSINESS_DAYS = 5  # when the severity sets no window (an optional postmortem)
Status = Postmortem.Status
ItemStatus = ActionItem.Status


# ---------------------------------------------------------------------------------------
# Time rules
# ---------------------------------------------------------------------------------------
def business_zone() -> ZoneInfo:
    """The zone business days are counted in (POSTMORTEM_TIME_ZONE, default TIME_ZONE)."""
    return ZoneInfo(getattr(settings, "POSTMORTEM_TIME_ZONE", "") or settings.TIME_ZONE)


def holidays() -> list[date]:
    return list(Holiday.objects.values_list("day", flat=True))


def due_at_for(incident: Incident) -> datetime:
    """Resolution + the postmortem window of the most severe level the incident ever had
    (``peak_severity``), in business days (weekends and holidays skipped, same local wall time
    across DST)."""
    if incident.resolved_at is None:
        raise Conflict(f"{incident.reference} is not resolved: a postmortem reviews a resolved incident.")
    days = incident.peak_severity.postmortem_due_business_days
    if days is None:
        days = DEFAULT_DUE_BUSINESS_DAYS
    return timeutil.add_business_days(incident.resolved_at, days, business_zone(), holidays())


def local_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(business_zone()).date()


# ---------------------------------------------------------------------------------------
# Close guard (registered in PostmortemsConfig.ready)
# ---------------------------------------------------------------------------------------
def close_guard(incident: Incident) -> str | None:
    """Refuse closing an incident whose peak severity (the most severe level it ever had)
    requires a postmortem until it is published: lowering the severity afterwards changes
    nothing."""
    peak = incident.peak_severity
    if not peak.postmortem_required:
        return None
    if Postmortem.objects.filter(incident_id=incident.pk, status=Status.PUBLISHED).exists():
        return None
    if peak.pk != incident.severity_id:
        return f"a published postmortem is required: it reached {peak.label} (now {incident.severity.label})"
    return f"a published postmortem is required for this severity ({peak.label})"


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _when(at: datetime | None) -> datetime:
    """``at`` back-dates a step when importing history (demo data, backfills); never the future."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise InvalidInput("Give the time with a time zone.", field="at")
    if at > now + incident_services.CLOCK_SKEW:
        raise InvalidInput("That time is in the future.", field="at")
    return at


def _require_writer(actor) -> None:
    if not permissions.can_write(actor):
        raise NotAllowed("Only responders and engineering managers write postmortems.")


def _lock(postmortem: Postmortem | int) -> Postmortem:
    pk = postmortem.pk if isinstance(postmortem, Postmortem) else postmortem
    return (
        Postmortem.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity", "owner", "team", "team__manager", "reviewer")
        .get(pk=pk)
    )


def _lock_item(item: ActionItem | int) -> ActionItem:
    pk = item.pk if isinstance(item, ActionItem) else item
    return ActionItem.objects.select_for_update(of=("self",)).select_related("postmortem", "owner").get(pk=pk)


def _save(obj, actor, fields: Iterable[str] | None = None) -> None:
    obj._history_user = actor
    try:
        with transaction.atomic():
            if fields is None:
                obj.save()
            else:
                obj.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise InvalidInput(f"The change breaks a postmortem rule: {exc}") from exc


def search_text(postmortem: Postmortem) -> str:
    incident = postmortem.incident
    parts = [incident.reference, incident.title, incident.summary]
    parts += [getattr(postmortem, name) for name in SECTION_FIELDS]
    return "\n".join(p for p in parts if p)


def _timeline(postmortem: Postmortem, text: str, actor, at: datetime | None = None) -> None:
    incident_services.add_timeline_event(
        incident=postmortem.incident,
        kind=TimelineEvent.Kind.POSTMORTEM,
        text=text,
        actor=actor,
        occurred_at=at,
        related=postmortem,
    )


def _notify(
    *, recipients, template: str, postmortem: Postmortem, key: str, title: str, extra=None, kind="update"
):
    if is_quiet():
        return
    people = []
    for r in recipients:
        if r is None or (not isinstance(r, str) and not r.is_active) or r in people:
            continue
        people.append(r)
    if not people:
        return
    from notifications.services import notify  # layer 0

    url = absolute_url(postmortem.get_absolute_url())
    incident = postmortem.incident
    notify(
        recipients=people,
        kind=kind,
        template=f"postmortems/{template}",
        context={
            "title": title,
            "url": url,
            "severity": incident.severity.label,
            "fields": [
                ["Incident", f"{incident.reference} {incident.title}"],
                ["Owner", str(postmortem.owner)],
                ["Status", postmortem.get_status_display()],
                ["Due", postmortem.due_at.astimezone(business_zone()).strftime("%Y-%m-%d %H:%M %Z")],
                *(extra or []),
            ],
            "actions": [["Open postmortem", url]],
            "incident_reference": incident.reference,
            "incident_title": incident.title,
        },
        idempotency_key=key,
        related=postmortem,
    )


# ---------------------------------------------------------------------------------------
# Postmortem lifecycle
# ---------------------------------------------------------------------------------------
@transaction.atomic
def start_postmortem(*, incident: Incident | int, actor, owner=None, reviewer=None) -> Postmortem:
    """Open the postmortem of a resolved (or closed) incident, prefilled from its record.
    ``owner`` defaults to the actor; ``reviewer`` to the owning team's manager."""
    _require_writer(actor)
    pk = incident.pk if isinstance(incident, Incident) else incident
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("severity", "peak_severity", "owning_team", "owning_team__manager")
        .get(pk=pk)
    )
    if Postmortem.objects.filter(incident=incident).exists():
        raise Conflict(f"{incident.reference} already has a postmortem.")
    if incident.is_open:
        raise Conflict(f"{incident.reference} is still open: resolve it before starting its postmortem.")
    owner = owner or actor
    if not permissions.can_write(owner):
        raise InvalidInput(f"{owner} cannot own a postmortem (not a responder or manager).", field="owner")
    team = incident.owning_team
    if reviewer is None and team is not None and team.manager_id and team.manager_id != owner.pk:
        reviewer = team.manager
    if reviewer is not None and reviewer.pk == owner.pk:
        raise InvalidInput("The owner cannot review their own postmortem.", field="reviewer")
    postmortem = Postmortem(
        incident=incident,
        owner=owner,
        team=team,
        reviewer=reviewer,
        due_at=due_at_for(incident),
        created_by=actor,
        **prefill.sections(incident, tz=business_zone()),
    )
    postmortem.search_text = search_text(postmortem)
    _save(postmortem, actor)
    _timeline(postmortem, f"Postmortem started by {actor}; owner {owner}.", actor)
    if owner.pk != actor.pk:
        _notify(
            recipients=[owner],
            template="assigned",
            postmortem=postmortem,
            key=f"postmortems:{postmortem.pk}:owner:{owner.pk}",
            title=f"You own the postmortem of {incident.reference}",
        )
    return postmortem


EDITABLE_FIELDS = (*SECTION_FIELDS, "owner", "reviewer", "due_at")


@transaction.atomic
def update_postmortem(*, postmortem: Postmortem | int, actor, **fields) -> Postmortem:
    """Edit sections (draft or in review), the owner, the reviewer or the due time.
    A published postmortem is the record: it no longer changes."""
    _require_writer(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))} here.")
    postmortem = _lock(postmortem)
    if postmortem.status == Status.PUBLISHED:
        raise Conflict("The postmortem is published: it is the record and no longer changes.")
    changed = [name for name, value in fields.items() if getattr(postmortem, name) != value]
    if not changed:
        return postmortem
    if "owner" in changed and not permissions.can_write(fields["owner"]):
        raise InvalidInput(f"{fields['owner']} cannot own a postmortem.", field="owner")
    if "due_at" in changed:
        due = fields["due_at"]
        if due is None or timezone.is_naive(due):
            raise InvalidInput("Give the due time with a time zone.", field="due_at")
    for name in changed:
        setattr(postmortem, name, fields[name])
    if postmortem.reviewer_id and postmortem.reviewer_id == postmortem.owner_id:
        raise InvalidInput("The owner cannot review their own postmortem.", field="reviewer")
    save = list(changed)
    if postmortem.approved_at and (set(changed) & set(SECTION_FIELDS) or "owner" in changed):
        postmortem.approved_at = None
        postmortem.approved_by = None
        postmortem.review_checklist = []
        save += ["approved_at", "approved_by", "review_checklist"]
    if set(changed) & set(SECTION_FIELDS):
        postmortem.search_text = search_text(postmortem)
        save.append("search_text")
    _save(postmortem, actor, save)
    return postmortem


@transaction.atomic
def refresh_from_incident(*, postmortem: Postmortem | int, actor, sections: Iterable[str]) -> Postmortem:
    """Re-prefill the named sections from the incident's current record (draft only)."""
    _require_writer(actor)
    postmortem = _lock(postmortem)
    if postmortem.status != Status.DRAFT:
        raise Conflict("Only a draft is refilled from the incident.")
    fresh = prefill.sections(postmortem.incident, tz=business_zone())
    wanted = [s for s in sections if s in fresh]
    if not wanted:
        raise InvalidInput(f"Sections that can be refilled: {', '.join(fresh)}.", field="sections")
    return update_postmortem(postmortem=postmortem, actor=actor, **{s: fresh[s] for s in wanted})


REQUIRED_FOR_REVIEW = ("summary", "root_cause", "resolution")


@transaction.atomic
def submit_for_review(
    *, postmortem: Postmortem | int, actor, reviewer=None, at: datetime | None = None
) -> Postmortem:
    """draft -> in review. Needs a summary, a root cause and the resolution written."""
    _require_writer(actor)
    postmortem = _lock(postmortem)
    if postmortem.status != Status.DRAFT:
        raise Conflict(f"The postmortem is {postmortem.get_status_display().lower()}, not a draft.")
    missing = [
        Postmortem._meta.get_field(f).verbose_name
        for f in REQUIRED_FOR_REVIEW
        if not getattr(postmortem, f).strip()
    ]
    if missing:
        raise InvalidInput(f"Write these sections before review: {', '.join(missing)}.")
    if reviewer is not None:
        if reviewer.pk == postmortem.owner_id:
            raise InvalidInput("The owner cannot review their own postmortem.", field="reviewer")
        postmortem.reviewer = reviewer
    postmortem.status = Status.IN_REVIEW
    postmortem.submitted_at = _when(at)
    _save(postmortem, actor, ["status", "submitted_at", "reviewer"])
    _timeline(postmortem, f"Postmortem submitted for review by {actor}.", actor, postmortem.submitted_at)
    _notify(
        recipients=[postmortem.reviewer] if postmortem.reviewer else [],
        template="review_requested",
        postmortem=postmortem,
        key=f"postmortems:{postmortem.pk}:review:{postmortem.submitted_at.isoformat()}",
        title=f"Review requested: postmortem of {postmortem.incident.reference}",
    )
    return postmortem


@transaction.atomic
def return_to_draft(*, postmortem: Postmortem | int, actor, reason: str) -> Postmortem:
    """in review -> draft: the reviewer asks for changes (the reason goes to the owner). A
    reviewer's step: an engineering manager who is not the owner (``permissions.can_review``)."""
    _require_writer(actor)
    postmortem = _lock(postmortem)
    if not permissions.can_review(actor, postmortem):
        raise NotAllowed("Only a reviewer (an engineering manager who is not the author) requests changes.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say what needs to change.", field="reason")
    if postmortem.status != Status.IN_REVIEW:
        raise Conflict("Only a postmortem in review can be sent back.")
    postmortem.status = Status.DRAFT
    postmortem.approved_at = None
    postmortem.approved_by = None
    postmortem.review_checklist = []
    _save(postmortem, actor, ["status", "approved_at", "approved_by", "review_checklist"])
    _notify(
        recipients=[postmortem.owner] if postmortem.owner_id != actor.pk else [],
        template="changes_requested",
        postmortem=postmortem,
        key=f"postmortems:{postmortem.pk}:changes:{timezone.now().isoformat()}",
        title=f"Changes requested on the postmortem of {postmortem.incident.reference}",
        extra=[["Requested by", str(actor)], ["What to change", reason]],
    )
    return postmortem


@transaction.atomic
def approve(
    *, postmortem: Postmortem | int, actor, checklist: Iterable[str], at: datetime | None = None
) -> Postmortem:
    """A reviewer (an engineering manager who is not the owner) confirms every checklist item."""
    postmortem = _lock(postmortem)
    if not permissions.can_review(actor, postmortem):
        if actor is not None and actor.pk == postmortem.owner_id:
            raise NotAllowed("The author cannot approve their own postmortem: ask a reviewer.")
        raise NotAllowed("Only engineering managers approve postmortems.")
    if postmortem.status != Status.IN_REVIEW:
        raise Conflict("Submit the postmortem for review before approving it.")
    if postmortem.approved_at:
        raise Conflict(
            f"Already approved by {postmortem.approved_by} at {postmortem.approved_at:%Y-%m-%d %H:%M} UTC."
        )
    confirmed = [k for k in REVIEW_CHECKLIST_KEYS if k in set(checklist or ())]
    missing = [k for k in REVIEW_CHECKLIST_KEYS if k not in confirmed]
    if missing:
        raise InvalidInput(
            f"Confirm every review checklist item (missing: {', '.join(missing)}).", field="checklist"
        )
    postmortem.review_checklist = confirmed
    postmortem.approved_by = actor
    postmortem.approved_at = _when(at)
    _save(postmortem, actor, ["review_checklist", "approved_by", "approved_at"])
    _timeline(postmortem, f"Postmortem approved by {actor}.", actor, postmortem.approved_at)
    return postmortem


@transaction.atomic
def publish(*, postmortem: Postmortem | int, actor, at: datetime | None = None) -> Postmortem:
    """in review and approved -> published (records who and when). The owner, the approver or
    any engineering manager publishes; the incident may then be closed."""
    postmortem = _lock(postmortem)
    if not permissions.can_publish(actor, postmortem):
        raise NotAllowed("Only the owner, the approver or an engineering manager publishes.")
    if postmortem.status == Status.PUBLISHED:
        raise Conflict(
            f"Already published by {postmortem.published_by} at {postmortem.published_at:%Y-%m-%d %H:%M} UTC."
        )
    if postmortem.status != Status.IN_REVIEW or not postmortem.approved_at:
        raise Conflict("A reviewer must approve the postmortem before it is published.")
    postmortem.status = Status.PUBLISHED
    postmortem.published_by = actor
    postmortem.published_at = _when(at)
    _save(postmortem, actor, ["status", "published_by", "published_at"])
    _timeline(postmortem, f"Postmortem published by {actor}.", actor, postmortem.published_at)
    team = postmortem.team
    owners = [i.owner for i in postmortem.action_items.select_related("owner")]
    _notify(
        recipients=[
            postmortem.owner,
            team.manager if team else None,
            team.email if team and team.email else None,
            *owners,
        ],
        template="published",
        postmortem=postmortem,
        key=f"postmortems:{postmortem.pk}:published",
        title=f"Postmortem published: {postmortem.incident.reference} {postmortem.incident.title}",
        extra=[["Published by", str(actor)], ["Action items", str(len(owners))]],
    )
    return postmortem


# ---------------------------------------------------------------------------------------
# Action items
# ---------------------------------------------------------------------------------------
ITEM_FIELDS = ("title", "description", "owner", "team", "kind", "priority", "due_date", "tracker_url")


def _clean_item_fields(fields: dict) -> dict:
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()
        if not fields["title"]:
            raise InvalidInput("Give the action item a title.", field="title")
    if "owner" in fields and fields["owner"] is None:
        raise InvalidInput("Every action item has an owner.", field="owner")
    if "owner" in fields and not fields["owner"].is_active:
        raise InvalidInput(f"{fields['owner']} is deactivated.", field="owner")
    if "kind" in fields and fields["kind"] not in ActionItem.Kind.values:
        raise InvalidInput(f"Unknown kind {fields['kind']!r}.", field="kind")
    if "priority" in fields and fields["priority"] not in ActionItem.Priority.values:
        raise InvalidInput(f"Unknown priority {fields['priority']!r}.", field="priority")
    if "due_date" in fields and not isinstance(fields["due_date"], date):
        raise InvalidInput("Give a due date.", field="due_date")
    if "tracker_url" in fields:
        fields["tracker_url"] = (fields["tracker_url"] or "").strip()
    if "description" in fields:
        fields["description"] = fields["description"] or ""
    return fields


@transaction.atomic
def add_action_item(
    *,
    postmortem: Postmortem | int,
    actor,
    title: str,
    owner,
    due_date: date,
    kind: str = ActionItem.Kind.PREVENT,
    priority: str = ActionItem.Priority.P3,
    description: str = "",
    team=None,
    tracker_url: str = "",
) -> ActionItem:
    """Add remediation work; the team defaults to the postmortem's team. Allowed after
    publication too (follow-up work found later is still tracked)."""
    _require_writer(actor)
    postmortem = _lock(postmortem)
    fields = _clean_item_fields(
        {
            "title": title, "owner": owner, "due_date": due_date, "kind": kind, "priority": priority,
            "description": description, "tracker_url": tracker_url,
        }
    )  # fmt: skip
    item = ActionItem(postmortem=postmortem, team=team or postmortem.team, created_by=actor, **fields)
    _save(item, actor)
    if owner.pk != actor.pk:
        _notify_item_owner(item, postmortem)
    return item


def _notify_item_owner(item: ActionItem, postmortem: Postmortem) -> None:
    _notify(
        recipients=[item.owner],
        template="action_item_assigned",
        postmortem=postmortem,
        key=f"postmortems:item:{item.pk}:owner:{item.owner_id}",
        title=f"Action item for you: {item.title}",
        extra=[
            ["Action item", item.title],
            ["Item due", f"{item.due_date:%Y-%m-%d}"],
            ["Kind", item.get_kind_display()],
        ],
        kind="reminder",
    )


@transaction.atomic
def update_action_item(*, item: ActionItem | int, actor, **fields) -> ActionItem:
    """Edit an item's details (status has its own function). Every change lands in history."""
    _require_writer(actor)
    unknown = set(fields) - set(ITEM_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))} here (status has its own action).")
    item = _lock_item(item)
    fields = _clean_item_fields(dict(fields))
    changed = [name for name, value in fields.items() if getattr(item, name) != value]
    if not changed:
        return item
    for name in changed:
        setattr(item, name, fields[name])
    _save(item, actor, changed)
    if "owner" in changed and item.owner_id != actor.pk:
        _notify_item_owner(item, item.postmortem)
    return item


@transaction.atomic
def set_action_item_status(
    *, item: ActionItem | int, actor, status: str, reason: str = "", at: datetime | None = None
) -> ActionItem:
    """Move an item to ``status``; "won't do" needs a reason, done/won't do stamp completion,
    going back to open/in progress clears it."""
    if not permissions.can_update_item(actor):
        raise NotAllowed("Only responders and engineering managers update action items.")
    if status not in ItemStatus.values:
        raise InvalidInput(f"Unknown status {status!r}.", field="status")
    reason = (reason or "").strip()
    if status == ItemStatus.WONT_DO and not reason:
        raise InvalidInput("Say why the item will not be done.", field="reason")
    item = _lock_item(item)
    if item.status == status and (status != ItemStatus.WONT_DO or item.wont_do_reason == reason):
        return item
    item.status = status
    item.wont_do_reason = reason if status == ItemStatus.WONT_DO else ""
    if status in ActionItem.FINISHED_STATUSES:
        item.completed_at = item.completed_at or _when(at)
    else:
        item.completed_at = None
    _save(item, actor, ["status", "wont_do_reason", "completed_at"])
    return item


# --- holidays (business days for due dates) ---------------------------------------------------


@transaction.atomic
def save_holiday(*, holiday: Holiday | None = None, actor, **fields) -> Holiday:
    """Add or edit a public holiday: postmortem and action-item due dates skip it. Due dates
    already set keep their value (they were promised)."""
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers edit the holiday calendar.")
    row = holiday or Holiday()
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    return row


@transaction.atomic
def delete_holiday(*, holiday: Holiday, actor) -> None:
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers edit the holiday calendar.")
    holiday.delete()
