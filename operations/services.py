"""Writes to the operating model register. Admin, API, signed links and the demo come here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from operations import cadence as engine
from operations import permissions
from operations.models import CheckIn, Responsibility
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.text import refuse_control_characters

CADENCE_FIELDS = ("cadence", "first_due_on", "due_time", "cron_expression", "time_zone")
_UNSET = object()
# A clock a little ahead of the server's is not "the future".
CLOCK_SKEW = timedelta(minutes=2)


def _schedule(resp: Responsibility) -> engine.Cadence:
    try:
        return resp.schedule()
    except ValueError as exc:
        field = (
            "cron_expression"
            if resp.cadence == Responsibility.Cadence.CRON or resp.cron_expression
            else "cadence"
        )
        if "time zone" in str(exc):
            field = "time_zone"
        raise InvalidInput(str(exc).capitalize() + ".", field=field) from exc


def _due_soon_at(resp: Responsibility, sched: engine.Cadence, point: datetime) -> datetime:
    window = resp.remind_before if resp.remind_before is not None else sched.due_soon_window(point)
    return point - window


def _set_pending(resp: Responsibility, sched: engine.Cadence, pending: datetime) -> None:
    resp.next_due_at = pending
    resp.due_soon_at = _due_soon_at(resp, sched, pending)


def _check_people(resp: Responsibility) -> None:
    if resp.owner_id and resp.owner_id == resp.backup_id:
        raise InvalidInput("The backup must be someone other than the owner.", field="backup")
    for field in ("owner", "backup"):
        person = getattr(resp, field)
        if person is not None and not person.is_active:
            raise InvalidInput(f"{person} is deactivated and cannot be the {field}.", field=field)


def _full_clean(resp: Responsibility) -> None:
    try:
        resp.full_clean(exclude=["services"], validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=None if field == "__all__" else field) from exc


def validate(*, responsibility: Responsibility) -> engine.Cadence:
    """The rules a duty must satisfy before it is saved (forms call this to show field errors)."""
    resp = responsibility
    if resp.cadence != Responsibility.Cadence.CRON:
        resp.cron_expression = ""
    if resp.area != Responsibility.Area.OTHER:
        resp.area_other = ""
    elif not resp.area_other.strip():
        raise InvalidInput("Name the area when it is 'Other'.", field="area_other")
    if resp.remind_before is not None and resp.remind_before < timedelta(0):
        raise InvalidInput("Remind before cannot be negative.", field="remind_before")
    if not resp.first_due_on:
        raise InvalidInput("Give the first due date.", field="first_due_on")
    _check_people(resp)
    return _schedule(resp)


@transaction.atomic
def save_responsibility(
    *,
    actor=None,
    responsibility: Responsibility | None = None,
    services: Iterable | None = None,
    now: datetime | None = None,
    **fields,
) -> Responsibility:
    """Create or edit a duty. A new duty, or one whose cadence changed, starts tracking at
    the cadence's first due point after its last check-in (its very first due point when
    it was never done)."""
    now = now or timezone.now()
    resp = responsibility or Responsibility()
    creating = resp.pk is None
    old = None
    if not creating:
        old = Responsibility.objects.select_for_update().get(pk=resp.pk)
        if actor is not None and not permissions.can_manage(actor, old):
            raise NotAllowed("Only an engineering manager or the team's manager may edit this duty.")
    for name, value in fields.items():
        setattr(resp, name, value)
    if creating and actor is not None and resp.team_id and not permissions.can_manage(actor, resp):
        raise NotAllowed("Only an engineering manager or the team's manager may add duties.")
    sched = validate(responsibility=resp)
    cadence_changed = creating or any(getattr(old, f) != getattr(resp, f) for f in CADENCE_FIELDS)
    if cadence_changed:
        last = (
            None
            if creating
            else resp.check_ins.order_by("-done_at").values_list("done_at", flat=True).first()
        )
        pending = sched.next_after(last) if last else sched.first()
        resp.tracking_since = pending
        _set_pending(resp, sched, pending)
    else:
        _set_pending(resp, sched, resp.next_due_at)
    _full_clean(resp)
    if actor is not None:
        resp._history_user = actor
    resp._change_reason = "Created" if creating else ("Cadence changed" if cadence_changed else "Edited")
    try:
        with transaction.atomic():
            resp.save()
    except IntegrityError as exc:
        raise InvalidInput(f"{resp.team} already has a duty called {resp.title!r}.", field="title") from exc
    if services is not None:
        resp.services.set(services)
    return resp


@transaction.atomic
def check_in(
    *,
    responsibility: Responsibility,
    actor,
    note: str = "",
    evidence_url: str = "",
    done_at: datetime | None = None,
    via: str = CheckIn.Via.ADMIN,
    expected_due_at: datetime | None = None,
    now: datetime | None = None,
) -> CheckIn:
    """Record a cycle as done. Resets the clock: the next due point follows the one covered.

    ``expected_due_at`` (signed reminder links) refuses the check-in with Conflict when that
    due point is already done, so an old link never counts for a later cycle.
    """
    resp = (
        Responsibility.objects.select_for_update(of=("self",))
        .select_related("team", "owner", "backup")
        .get(pk=responsibility.pk)
    )
    # Read the clock after the lock: a check-in that waited for a concurrent one is later than it.
    now = now or timezone.now()
    if not permissions.can_check_in(actor, resp):
        raise NotAllowed("Only the owner, the backup or a manager may check this duty in.")
    if not resp.active:
        raise Conflict("This duty is retired; reactivate it before checking in.")
    done_at = done_at or now
    if timezone.is_naive(done_at):
        raise InvalidInput("Give the time with a time zone.", field="done_at")
    if done_at > now + CLOCK_SKEW:
        raise InvalidInput("A check-in cannot be in the future.", field="done_at")
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput("Keep the note under 2000 characters.", field="note")
    refuse_control_characters(note, field="note")  # NUL would be a database error
    evidence_url = (evidence_url or "").strip()
    refuse_control_characters(evidence_url, field="evidence_url")  # URLValidator lets NUL through
    if evidence_url:
        try:
            URLValidator(schemes=["http", "https"])(evidence_url)
        except ValidationError as exc:
            raise InvalidInput("Give a full http(s) link as evidence.", field="evidence_url") from exc
        if len(evidence_url) > 500:
            raise InvalidInput("The evidence link is too long.", field="evidence_url")
    last = resp.check_ins.order_by("-done_at").values_list("done_at", flat=True).first()
    if last and done_at < last:
        raise InvalidInput("A check-in cannot be earlier than the last one.", field="done_at")
    if expected_due_at is not None and resp.next_due_at > expected_due_at:
        raise Conflict("That cycle is already done.")
    sched = _schedule(resp)
    try:
        coverage = engine.apply_check_in(sched, pending=resp.next_due_at, at=done_at)
    except engine.AlreadyDone as exc:
        raise Conflict(
            f"This cycle is already done; the next one is due {timezone.localtime(exc.next_due):%Y-%m-%d %H:%M}."
        ) from exc
    try:
        with transaction.atomic():
            entry = CheckIn.objects.create(
                responsibility=resp,
                done_by=actor,
                done_at=done_at,
                note=note,
                evidence_url=evidence_url,
                covers_due_at=coverage.covers,
                late=coverage.late,
                missed_before=coverage.missed,
                via=via,
            )
    except IntegrityError as exc:  # the row lock makes this unreachable on PostgreSQL; SQLite belt
        raise Conflict("That cycle was just checked in by someone else.") from exc
    _set_pending(resp, sched, coverage.next_due)
    resp._history_user = actor
    resp._change_reason = f"Checked in by {actor}" + (" (late)" if coverage.late else "")
    resp.save(update_fields=["next_due_at", "due_soon_at", "updated_at"])
    return entry


@transaction.atomic
def reassign(*, responsibility: Responsibility, actor, owner=_UNSET, backup=_UNSET) -> Responsibility:
    """Hand a duty to someone else (and/or change its backup)."""
    resp = (
        Responsibility.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=responsibility.pk)
    )
    if not permissions.can_manage(actor, resp):
        raise NotAllowed("Only an engineering manager or the team's manager may reassign this duty.")
    if owner is _UNSET and backup is _UNSET:
        raise InvalidInput("Say who the new owner or backup is.")
    before = (resp.owner_id, resp.backup_id)
    if owner is not _UNSET:
        resp.owner = owner
    if backup is not _UNSET:
        resp.backup = backup
    if resp.owner_id and resp.owner_id == resp.backup_id and backup is _UNSET:
        resp.backup = None  # the backup became the owner: the seat is free
    _check_people(resp)
    if (resp.owner_id, resp.backup_id) == before:
        return resp
    resp._history_user = actor
    resp._change_reason = f"Reassigned by {actor}"
    resp.save(update_fields=["owner", "backup", "updated_at"])
    return resp


@transaction.atomic
def set_active(*, responsibility: Responsibility, actor, active: bool, now: datetime | None = None):
    """Retire a duty (kept for the record, never chased) or bring it back; a reactivated
    duty starts at its next due point instead of owing every cycle it was retired for."""
    now = now or timezone.now()
    resp = (
        Responsibility.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=responsibility.pk)
    )
    if not permissions.can_manage(actor, resp):
        raise NotAllowed("Only an engineering manager or the team's manager may retire duties.")
    if resp.active == active:
        return resp
    resp.active = active
    if active:
        sched = _schedule(resp)
        pending = sched.next_after(now)
        resp.tracking_since = pending
        _set_pending(resp, sched, pending)
    resp._history_user = actor
    resp._change_reason = "Reactivated" if active else "Retired"
    resp.save()
    return resp


@transaction.atomic
def delete_responsibility(*, responsibility: Responsibility, actor) -> None:
    """Remove a duty and its check-ins (retiring it with ``set_active`` keeps its record)."""
    locked = Responsibility.objects.select_for_update().get(pk=responsibility.pk)
    if not permissions.can_manage(actor, locked):
        raise NotAllowed("Only an engineering manager or the team's manager may delete this duty.")
    locked._history_user = actor
    locked.delete()
