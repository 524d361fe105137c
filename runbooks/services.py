"""Writes to runbooks. Admin, API and pages all come through here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from catalog.models import Service
from opsportal.errors import InvalidInput, NotAllowed
from opsportal.timeutil import require_aware
from runbooks import permissions
from runbooks.models import Runbook

log = logging.getLogger(__name__)

CONTENT_FIELDS = (
    "title", "slug", "owner_team_id", "summary", "scenarios", "diagnostic_steps", "mitigation",
    "rollback", "escalation_notes", "body", "review_interval_days",
)  # fmt: skip
EDITABLE_FIELDS = {
    "title", "slug", "owner_team", "owner_team_id", "summary", "scenarios", "diagnostic_steps",
    "mitigation", "rollback", "escalation_notes", "body", "review_interval_days",
}  # fmt: skip


def _validation_error(exc: ValidationError) -> InvalidInput:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.message_dict.items()))
        return InvalidInput(" ".join(errors), field=None if field == "__all__" else field)
    return InvalidInput(" ".join(exc.messages))


def _locked(runbook: Runbook) -> Runbook:
    try:
        return Runbook.objects.select_for_update().get(pk=runbook.pk)
    except Runbook.DoesNotExist as exc:
        raise InvalidInput("This runbook no longer exists.") from exc


def _save(runbook: Runbook, *, actor, reason: str) -> None:
    runbook._history_user = actor
    runbook._change_reason = reason
    runbook.save()


@transaction.atomic
def save_runbook(
    *,
    actor,
    runbook: Runbook | None = None,
    services: Iterable[Service] | None = None,
    **fields,
) -> Runbook:
    """Create or edit a runbook's content (review and test records have their own functions)."""
    creating = runbook is None or runbook.pk is None
    if creating and not permissions.can_create(actor):
        raise NotAllowed("You may not create runbooks.")
    if not creating and not permissions.can_edit(actor):
        raise NotAllowed("You may not edit runbooks.")
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"Not editable here: {', '.join(sorted(unknown))}.")
    runbook = runbook if runbook is not None else Runbook()
    if not creating:
        runbook = _locked(runbook)
    for name, value in fields.items():
        setattr(runbook, name, value)
    try:
        runbook.full_clean(exclude=["services", "review_due_at", "stale_at"])
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    _save(runbook, actor=actor, reason="Created" if creating else "Edited")
    if services is not None:
        runbook.services.set(services)
    return runbook


@transaction.atomic
def mark_reviewed(*, runbook: Runbook, actor, note: str = "", at: datetime | None = None) -> Runbook:
    """Someone read the runbook end to end and confirmed it is still right: restart the clock."""
    if not permissions.can_edit(actor):
        raise NotAllowed("You may not review runbooks.")
    now = timezone.now()
    at = require_aware(at) if at else now
    if at > now:
        raise InvalidInput("A review cannot be in the future.", field="at")
    if len(note) > 500:
        raise InvalidInput("Keep the review note under 500 characters.", field="note")
    locked = _locked(runbook)
    if locked.last_reviewed_at and at < locked.last_reviewed_at:
        raise InvalidInput("A later review is already recorded.", field="at")
    locked.last_reviewed_at = at
    locked.reviewed_by = actor
    locked.review_note = note.strip()
    _save(locked, actor=actor, reason="Reviewed")
    log.info("runbook %s reviewed by %s", locked.slug, actor)
    return locked


@transaction.atomic
def record_test(
    *,
    runbook: Runbook,
    actor,
    evidence_url: str = "",
    evidence_note: str = "",
    tested_at: datetime | None = None,
) -> Runbook:
    """The steps were exercised (game day, drill or a real incident); keep the evidence.

    A test also counts as a review: the steps were just read and followed.
    """
    if not permissions.can_edit(actor):
        raise NotAllowed("You may not record runbook tests.")
    evidence_url = (evidence_url or "").strip()
    evidence_note = (evidence_note or "").strip()
    if not evidence_url and not evidence_note:
        raise InvalidInput(
            "Give evidence: a link (game day notes, incident) or a note.", field="evidence_note"
        )
    if evidence_url:
        try:
            URLValidator(schemes=["http", "https"])(evidence_url)
        except ValidationError as exc:
            raise InvalidInput("Enter a valid http(s) link.", field="evidence_url") from exc
        if len(evidence_url) > 500:
            raise InvalidInput("The link is too long (500 characters at most).", field="evidence_url")
    now = timezone.now()
    tested_at = require_aware(tested_at) if tested_at else now
    if tested_at > now:
        raise InvalidInput("A test cannot be in the future.", field="tested_at")
    locked = _locked(runbook)
    if locked.last_tested_at and tested_at < locked.last_tested_at:
        raise InvalidInput("A later test is already recorded.", field="tested_at")
    locked.last_tested_at = tested_at
    locked.tested_by = actor
    locked.test_evidence_url = evidence_url
    locked.test_evidence_note = evidence_note
    if locked.last_reviewed_at is None or locked.last_reviewed_at < tested_at:
        locked.last_reviewed_at = tested_at
        locked.reviewed_by = actor
        locked.review_note = "Tested"
    _save(locked, actor=actor, reason="Tested")
    log.info("runbook %s tested by %s", locked.slug, actor)
    return locked


@transaction.atomic
def restore_version(*, runbook: Runbook, history_id: int, actor) -> Runbook:
    """Bring back the content (text, owner, services, interval) of an old version.

    Review and test records stay as they are: they describe what happened, not the text.
    The restore itself becomes a new version, so it can be undone the same way.
    """
    if not permissions.can_edit(actor):
        raise NotAllowed("You may not restore runbook versions.")
    locked = _locked(runbook)
    record = Runbook.history.filter(id=locked.pk, history_id=history_id).first()
    if record is None:
        raise InvalidInput("No such version of this runbook.", field="history_id")
    if Runbook.objects.filter(slug=record.slug).exclude(pk=locked.pk).exists():
        raise InvalidInput(f"Another runbook now uses the address {record.slug!r}.", field="slug")
    for name in CONTENT_FIELDS:
        setattr(locked, name, getattr(record, name))
    if (
        not locked.owner_team_id
        or not type(locked).owner_team.field.related_model.objects.filter(pk=locked.owner_team_id).exists()
    ):
        raise InvalidInput("The owner team of that version no longer exists.", field="owner_team")
    stamp = timezone.localtime(record.history_date).strftime("%Y-%m-%d %H:%M %Z")
    service_ids = list(record.services.values_list("service_id", flat=True))
    _save(locked, actor=actor, reason=f"Restored version {history_id} of {stamp}")
    locked.services.set(Service.objects.filter(pk__in=service_ids))
    return locked


@transaction.atomic
def delete_runbook(*, runbook: Runbook, actor) -> None:
    """Delete a runbook (engineering managers); incidents and probes that linked it keep their
    record without it."""
    if actor is not None and not actor.has_perm("runbooks.delete_runbook"):
        raise NotAllowed("Only engineering managers delete runbooks.")
    locked = _locked(runbook)
    locked._history_user = actor
    locked.delete()
