"""Every state change of releases, reviews and signatures (admin, API, command are adapters).

Locking: release changes, item changes, check evaluation and sign-off all lock the release
row, then the review row (``select_for_update``), so a signature is always taken over the
content that is stored when it commits, and two people signing the same slot at once produce
one signature and one Conflict (the partial unique constraint backs this up).

Signatures: every write that can change the signed content (``selectors.signed_content``)
ends with ``_invalidate``, which marks each standing signature whose hash no longer matches,
with a reason naming what changed, and sends an approved release back to review. Signing a
slot again supersedes its current signature.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts.permissions import is_release_lead
from catalog.models import Service
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from readiness import checks, hooks, permissions, selectors
from readiness.models import (
    RISK_ORDER,
    ReadinessReview,
    ReadinessTemplate,
    Release,
    ReviewItem,
    Risk,
    Signature,
    TemplateItem,
)

RELEASE_FIELDS = (
    "name", "version", "release_lead", "window_start", "window_end", "change_summary", "risk",
    "rollback_plan", "rollback_minutes", "rollback_tested_at", "rollback_evidence_url", "rollback_evidence_note",
)  # fmt: skip


def validate_release(*, name, version, release_lead, window_start, window_end, risk, services) -> None:
    if not (name or "").strip():
        raise InvalidInput("A release needs a name.", field="name")
    if not (version or "").strip():
        raise InvalidInput("A release needs a version.", field="version")
    if risk not in Risk.values:
        raise InvalidInput(f"Unknown risk level {risk!r}.", field="risk")
    if window_start is None or window_end is None:
        raise InvalidInput("The deploy window needs a start and an end.", field="window_start")
    if window_end <= window_start:
        raise InvalidInput("The deploy window must end after it starts.", field="window_end")
    if release_lead is None or not is_release_lead(release_lead):
        raise InvalidInput("The release lead must be a member of Release leads.", field="release_lead")
    if not services:
        raise InvalidInput("A release changes at least one service.", field="services")


@transaction.atomic
def create_release(*, actor, services: Iterable[Service], **fields) -> Release:
    if not permissions.can_plan(actor):
        raise NotAllowed("You may not plan releases.")
    services = list(services)
    data = {f: fields.get(f) for f in RELEASE_FIELDS if f in fields}
    data.setdefault("risk", Risk.MEDIUM)
    validate_release(
        name=data.get("name"), version=data.get("version"), release_lead=data.get("release_lead"),
        window_start=data.get("window_start"), window_end=data.get("window_end"), risk=data["risk"],
        services=services,
    )  # fmt: skip
    if Release.objects.filter(name=data["name"], version=data["version"]).exists():
        raise Conflict(f"{data['name']} {data['version']} already exists.", field="version")
    for text in ("change_summary", "rollback_plan", "rollback_evidence_url", "rollback_evidence_note"):
        data[text] = data.get(text) or ""
    release = Release.objects.create(created_by=actor, status_changed_at=timezone.now(), **data)
    release.services.set(services)
    return release


@transaction.atomic
def update_release(
    *, release: Release, actor, services: Iterable[Service] | None = None, **fields
) -> Release:
    if not permissions.can_plan(actor):
        raise NotAllowed("You may not change releases.")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.status not in Release.OPEN_STATUSES:
        raise Conflict(f"A {locked.get_status_display().lower()} release cannot be edited.")
    changed = []
    for f in RELEASE_FIELDS:
        if f in fields:
            value = fields[f]
            if f in ("change_summary", "rollback_plan", "rollback_evidence_url", "rollback_evidence_note"):
                value = value or ""
            if getattr(locked, f) != value:
                setattr(locked, f, value)
                changed.append(f)
    new_services = list(services) if services is not None else list(locked.services.all())
    services_changed = {s.pk for s in new_services} != set(locked.services.values_list("pk", flat=True))
    validate_release(
        name=locked.name, version=locked.version, release_lead=locked.release_lead,
        window_start=locked.window_start, window_end=locked.window_end, risk=locked.risk, services=new_services,
    )  # fmt: skip
    if Release.objects.filter(name=locked.name, version=locked.version).exclude(pk=locked.pk).exists():
        raise Conflict(f"{locked.name} {locked.version} already exists.", field="version")
    if changed:
        locked.save()
    if services_changed:
        locked.services.set(new_services)
    if changed or services_changed:
        review = ReadinessReview.objects.select_for_update().filter(release=locked).first()
        if review is not None:
            _invalidate(review, locked)
    release.refresh_from_db()
    return release


def template_for(risk: str) -> ReadinessTemplate:
    templates = list(ReadinessTemplate.objects.all())
    for t in templates:
        if risk in (t.risk_levels or []):
            return t
    for t in templates:
        if t.is_default:
            return t
    raise InvalidInput("No readiness template is set up: create one and mark it default.")


def required_slots(release: Release, template: ReadinessTemplate) -> list[str]:
    slots = []
    if template.require_release_lead:
        slots.append(permissions.RELEASE_LEAD_SLOT)
    threshold = {
        ReadinessTemplate.ManagerSignoff.ALWAYS: 0,
        ReadinessTemplate.ManagerSignoff.MEDIUM: 1,
        ReadinessTemplate.ManagerSignoff.HIGH: 2,
    }.get(template.manager_signoff)
    if threshold is not None and RISK_ORDER[release.risk] >= threshold:
        teams = sorted({s.owner_team_id for s in release.services.all()})
        slots.extend(permissions.manager_slot(t) for t in teams)
    return slots


@transaction.atomic
def start_review(*, release: Release, actor, template: ReadinessTemplate | None = None) -> ReadinessReview:
    """planned -> in review: copy the template's items into a new review, evaluate the checks."""
    if not permissions.can_edit_items(actor):
        raise NotAllowed("You may not start readiness reviews.")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.status != Release.Status.PLANNED:
        raise Conflict(
            f"The review can only start from planned (the release is {locked.get_status_display()})."
        )
    template = template or template_for(locked.risk)
    review = ReadinessReview.objects.create(
        release=locked,
        template=template,
        template_name=template.name,
        required_slots=required_slots(locked, template),
    )
    high = locked.risk == Risk.HIGH
    bulk_create_with_history(
        [
            ReviewItem(
                review=review,
                position=t.position,
                key=t.key,
                title=t.title,
                guidance=t.guidance,
                required=t.required or (high and t.required_for_high_risk),
                evidence_required=t.evidence_required,
                check_key=t.check_key,
            )
            for t in template.items.order_by("position")
        ],
        ReviewItem,
        default_user=actor,
    )
    _transition(locked, Release.Status.IN_REVIEW)
    _evaluate(review, locked, now=timezone.now())
    release.refresh_from_db()
    return review


def _transition(release: Release, to: str) -> None:
    release.status = to
    release.status_changed_at = timezone.now()
    release.save(update_fields=["status", "status_changed_at", "updated_at"])


def _lock_review(release: Release) -> tuple[Release, ReadinessReview]:
    locked = Release.objects.select_for_update().get(pk=release.pk)
    review = ReadinessReview.objects.select_for_update().filter(release=locked).first()
    if review is None:
        raise Conflict("The readiness review has not started.")
    return locked, review


def _invalidate(review: ReadinessReview, release: Release) -> int:
    """Invalidate the standing signatures that no longer match the signed content, each with
    a reason naming what changed since it was signed; an approved release goes back to review.
    Callers hold the release and review locks."""
    content = selectors.signed_content(release, review.items.all())
    now = timezone.now()
    count = 0
    for sig in review.signatures.filter(superseded_at__isnull=True, invalidated_at__isnull=True):
        if sig.content_hash != content.digest:
            sig.invalidated_reason = selectors.why_invalid(sig, content)
            sig.invalidated_at = now
            sig.save(update_fields=["invalidated_at", "invalidated_reason"])
            count += 1
    if count and release.status == Release.Status.APPROVED:
        _transition(release, Release.Status.IN_REVIEW)
    return count


def _evaluate(review: ReadinessReview, release: Release, *, now: datetime) -> list[ReviewItem]:
    items = list(review.items.order_by("position"))
    for item in items:
        if not item.check_key:
            continue
        reasons = checks.run(item.check_key, release, now=now, item=item)
        item.check_passed = not reasons
        item.check_reasons = reasons
        item.checked_at = now
        if item.state != ReviewItem.State.WAIVED:
            item.state = ReviewItem.State.PASS if not reasons else ReviewItem.State.FAIL
        item.save()
    review.checks_evaluated_at = now
    review.save(update_fields=["checks_evaluated_at"])
    _invalidate(review, release)
    return items


@transaction.atomic
def evaluate_checks(*, release: Release, actor=None, now: datetime | None = None) -> list[ReviewItem]:
    """Re-run every automatic check from live data; failing checks set their item to fail."""
    if actor is not None and not permissions.can_view(actor):
        raise NotAllowed("You may not see this release.")
    locked, review = _lock_review(release)
    if locked.status not in (Release.Status.IN_REVIEW, Release.Status.APPROVED):
        raise Conflict(f"A {locked.get_status_display().lower()} release is not under review.")
    return _evaluate(review, locked, now=now or timezone.now())


@transaction.atomic
def update_item(
    *,
    item: ReviewItem,
    actor,
    state: str,
    evidence_url: str | None = None,
    evidence_note: str | None = None,
    waiver_reason: str | None = None,
) -> ReviewItem:
    """Mark an item (pass / fail / pending / waived) with evidence. Waivers need a reason and
    record who waived; automatic items take pass/fail from their check, so people may only
    waive them or lift a waiver. Any change invalidates standing signatures."""
    if not permissions.can_edit_items(actor):
        raise NotAllowed("You may not change readiness items.")
    release, review = _lock_review(item.review.release)
    if release.status not in (Release.Status.IN_REVIEW, Release.Status.APPROVED):
        raise Conflict(f"A {release.get_status_display().lower()} release's review is closed.")
    locked = ReviewItem.objects.get(pk=item.pk)
    if state not in ReviewItem.State.values:
        raise InvalidInput(f"Unknown state {state!r}.", field="state")
    url = locked.evidence_url if evidence_url is None else evidence_url.strip()
    note = locked.evidence_note if evidence_note is None else evidence_note.strip()
    if url and not url.startswith(("https://", "http://")):
        raise InvalidInput("Evidence links must be http(s) URLs.", field="evidence_url")
    reason = (waiver_reason or "").strip()
    if state == ReviewItem.State.WAIVED:
        if not reason:
            raise InvalidInput("A waiver needs a reason.", field="waiver_reason")
        unchanged = locked.state == ReviewItem.State.WAIVED and locked.waiver_reason == reason
        if not unchanged and not permissions.can_waive(actor, locked, selectors.team_managers(release)):
            raise NotAllowed(
                f"Waiving the automatic check '{locked.title}' needs the engineering manager of a team "
                "that owns one of the release's services (four eyes): ask them to waive it, or fix what the check reports."
            )
        if not unchanged:  # re-saving evidence keeps who waived
            locked.waiver_reason, locked.waived_by = reason, actor
    else:
        if reason:
            raise InvalidInput("Only waived items carry a waiver reason.", field="waiver_reason")
        locked.waiver_reason, locked.waived_by = "", None
        if locked.check_key and state in (ReviewItem.State.PASS, ReviewItem.State.FAIL):
            raise InvalidInput(
                "This item is decided by its automatic check: re-evaluate it, or waive it with a reason.",
                field="state",
            )
        if state == ReviewItem.State.PASS and locked.evidence_required and not (url or note):
            raise InvalidInput("This item needs evidence (a link or a note) to pass.", field="evidence_url")
    locked.evidence_url, locked.evidence_note = url, note
    locked.updated_by = actor
    if locked.check_key and state == ReviewItem.State.PENDING:
        # lifting a waiver: the check decides again
        locked.state = (
            ReviewItem.State.PENDING
            if locked.check_passed is None
            else (ReviewItem.State.PASS if locked.check_passed else ReviewItem.State.FAIL)
        )
    else:
        locked.state = state
    locked.save()
    _invalidate(review, release)
    return locked


@transaction.atomic
def sign(*, release: Release, actor, now: datetime | None = None) -> Signature:
    """Sign every open slot the actor may sign (usually one). Checks are re-evaluated first;
    every required item must pass or be waived. A slot is open when it has no current
    signature or its current one no longer holds; signing it supersedes that one (kept for
    audit). The last missing signature approves the release."""
    now = now or timezone.now()
    if not permissions.can_view(actor):
        raise NotAllowed("You may not sign readiness reviews.")
    locked, review = _lock_review(release)
    managers = selectors.team_managers(locked)
    mine = [s for s in review.required_slots if permissions.can_sign_slot(actor, s, managers)]
    if permissions.can_sign_slot(actor, permissions.SECOND_SIGNER_SLOT, managers):
        mine.append(permissions.SECOND_SIGNER_SLOT)  # opened below only while four eyes are missing
    if not mine:
        raise NotAllowed(
            "Only a member of Release leads (or the owning team's named manager) can sign this review."
        )
    if locked.status not in (Release.Status.IN_REVIEW, Release.Status.APPROVED):
        raise Conflict(
            f"Only a release in review can be signed (it is {locked.get_status_display().lower()})."
        )
    # also invalidates what no longer holds (an approved release whose plan was changed
    # behind the services' back goes back to review here)
    items = _evaluate(review, locked, now=now)
    blockers = selectors.sign_blockers(items)
    if blockers:
        raise Conflict("Cannot sign yet: " + "; ".join(blockers))
    content = selectors.signed_content(locked, items)
    current = {s.slot: s for s in review.signatures.filter(superseded_at__isnull=True, slot__in=mine)}
    open_slots = [
        slot
        for slot in mine
        if slot != permissions.SECOND_SIGNER_SLOT
        and (slot not in current or selectors.why_invalid(current[slot], content))
    ]
    if not open_slots and permissions.SECOND_SIGNER_SLOT in mine:
        views = selectors.signature_views(review, content)
        blocker = selectors.four_eyes_blocker(review, items, views)
        if blocker:
            signers = {v.signature.signer_id for v in views if v.valid}
            if signers == {actor.pk}:
                raise Conflict(f"Cannot sign again: {blocker}.")
            open_slots = [permissions.SECOND_SIGNER_SLOT]
    if not open_slots:
        raise Conflict("Already signed: the current signature covers what is stored now.")
    created = None
    for slot in open_slots:
        old = current.get(slot)
        try:
            with transaction.atomic():
                if old is not None:
                    if old.invalidated_at is None:  # stale hash, not yet marked
                        old.invalidated_reason = selectors.why_invalid(old, content)
                        old.invalidated_at = now
                    old.superseded_at = now
                    old.save(update_fields=["invalidated_at", "invalidated_reason", "superseded_at"])
                created = Signature.objects.create(
                    review=review,
                    slot=slot,
                    signer=actor,
                    signed_at=now,
                    content_hash=content.digest,
                    snapshot=content.data,
                    supersedes=old,
                )
        except IntegrityError as exc:  # a concurrent signer won the slot (backstop to the lock)
            raise Conflict("Someone signed this slot at the same moment; reload the review.") from exc
    if not selectors.missing_slots(review, content, items):
        _transition(locked, Release.Status.APPROVED)
    release.refresh_from_db()
    return created


def _move(release: Release, actor, *, allowed_from: tuple, to: str, verb: str) -> Release:
    if not permissions.can_plan(actor):
        raise NotAllowed(f"You may not mark releases {verb}.")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.status not in allowed_from:
        raise Conflict(f"A {locked.get_status_display().lower()} release cannot be marked {verb}.")
    _transition(locked, to)
    if to in (Release.Status.SHIPPED, Release.Status.ROLLED_BACK):
        # deployments records (or finishes) the release's deployment in this transaction
        hooks.release_moved.send(Release, release=locked, status=to, actor=actor, at=locked.status_changed_at)
    release.refresh_from_db()
    return release


@transaction.atomic
def mark_shipped(*, release: Release, actor) -> Release:
    return _move(
        release, actor, allowed_from=(Release.Status.APPROVED,), to=Release.Status.SHIPPED, verb="shipped"
    )


@transaction.atomic
def mark_rolled_back(*, release: Release, actor) -> Release:
    return _move(
        release, actor, allowed_from=(Release.Status.APPROVED, Release.Status.SHIPPED),
        to=Release.Status.ROLLED_BACK, verb="rolled back",
    )  # fmt: skip


@transaction.atomic
def cancel(*, release: Release, actor) -> Release:
    return _move(
        release, actor, allowed_from=Release.OPEN_STATUSES, to=Release.Status.CANCELLED, verb="cancelled"
    )


def record_gate(*, release: Release, result: selectors.GateResult) -> None:
    """Cache the gate's latest answer for lists (a conditional update, no history row)."""
    Release.objects.filter(pk=release.pk).update(
        last_gate_decision=result.decision, last_gate_at=result.checked_at
    )


# --- templates (the checklists a review starts from) -----------------------------------------


def _require_template_editor(actor) -> None:
    if actor is not None and not actor.has_perm("readiness.change_readinesstemplate"):
        raise NotAllowed("Only engineering managers edit readiness templates.")


@transaction.atomic
def save_template(
    *,
    template: ReadinessTemplate | None = None,
    actor,
    items: list[dict] | None = None,
    removed_items: Iterable[TemplateItem] = (),
    **fields,
) -> ReadinessTemplate:
    """Create or edit a template. ``items`` are the kept items' fields (``id`` None for a new
    one); ``removed_items`` are deleted. Reviews already started keep the items they copied."""
    if template is None or template.pk is None:
        if actor is not None and not actor.has_perm("readiness.add_readinesstemplate"):
            raise NotAllowed("Only engineering managers add readiness templates.")
    else:
        _require_template_editor(actor)
    template = template or ReadinessTemplate()
    for name, value in fields.items():
        setattr(template, name, value)
    if template.is_default:
        # one default: the new one takes over (a partial unique index backs this)
        ReadinessTemplate.objects.filter(is_default=True).exclude(pk=template.pk).update(is_default=False)
    template.full_clean()
    template.save()
    for item in removed_items:
        if item.template_id == template.pk:
            item.delete()
    rows = list(items or [])
    keys = [row.get("key") for row in rows]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Two items of a template cannot share a key.", field="items")
    positions = [row.get("position") for row in rows]
    if len(set(positions)) != len(positions):
        raise InvalidInput("Two items of a template cannot share a position.", field="items")
    existing = {i.pk: i for i in template.items.all()}
    # Free positions and keys first so a reorder never trips the unique constraints midway.
    for row in rows:
        if row.get("id") in existing:
            item = existing[row["id"]]
            item.position = 10000 + item.pk
            item.key = f"__moving-{item.pk}"
            item.save(update_fields=["position", "key"])
    for row in rows:
        item = existing.get(row.get("id")) or TemplateItem(template=template)
        for name, value in row.items():
            if name not in ("id", "template"):
                setattr(item, name, "" if value is None and name in ("check_key", "guidance") else value)
        item.full_clean(exclude=["template"])
        item.save()
    return template


@transaction.atomic
def delete_template(*, template: ReadinessTemplate, actor) -> None:
    if actor is not None and not actor.has_perm("readiness.delete_readinesstemplate"):
        raise NotAllowed("Only engineering managers delete readiness templates.")
    if template.is_default:
        raise Conflict("The default template cannot be deleted: make another one the default first.")
    template.delete()


@transaction.atomic
def delete_release(*, release: Release, actor) -> None:
    """Delete a release that never shipped (planned, in review, approved or cancelled); a
    shipped or rolled-back release is the record of a deploy and stays."""
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if actor is not None and not actor.has_perm("readiness.delete_release"):
        raise NotAllowed("Only engineering managers delete releases.")
    if locked.status in (Release.Status.SHIPPED, Release.Status.ROLLED_BACK):
        raise Conflict(f"{locked} was {locked.get_status_display().lower()}: its record stays.")
    locked._history_user = actor
    locked.delete()
