"""Reads: review progress, canonical item hash, signature validity, the gate, window warnings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from opsportal import timeutil
from opsportal.parsing import parse_id
from readiness import checks, conf
from readiness.models import ReadinessReview, Release, ReviewItem, Signature
from readiness.permissions import RELEASE_LEAD_SLOT, manager_slot

DONE_STATES = (ReviewItem.State.PASS, ReviewItem.State.WAIVED)


def canonical_items(items) -> list[list]:
    """The signed content: each item's key, state, evidence and waiver, in order."""
    return [
        [i.key, i.state, i.evidence_url, i.evidence_note, i.waiver_reason, i.waived_by_id]
        for i in sorted(items, key=lambda i: (i.position, i.key))
    ]


def items_hash(items) -> str:
    payload = json.dumps(canonical_items(items), separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def team_managers(release: Release) -> dict[int, int | None]:
    return {s.owner_team_id: s.owner_team.manager_id for s in release.services.select_related("owner_team")}


def team_names(release: Release) -> dict[int, str]:
    """owning team id -> name, for labelling manager slots (one query)."""
    return dict(release.services.values_list("owner_team_id", "owner_team__name"))


def slot_label(slot: str, names: dict[int, str] | None = None) -> str:
    """ "release-lead" -> "release lead"; "manager:7" -> "engineering manager of Payments"."""
    if slot == RELEASE_LEAD_SLOT:
        return "release lead"
    if slot.startswith("manager:"):
        team_id = slot.split(":", 1)[1]
        name = (names or {}).get(parse_id(team_id))
        return f"engineering manager of {name}" if name else f"engineering manager (team {team_id})"
    return slot


@dataclass
class SignatureView:
    signature: Signature
    valid: bool
    why_invalid: str = ""


def signature_views(review: ReadinessReview, current_hash: str) -> list[SignatureView]:
    out = []
    for sig in review.signatures.select_related("signer").order_by("signed_at", "pk"):
        if sig.invalidated_at is not None:
            out.append(SignatureView(sig, False, sig.invalidated_reason or "invalidated"))
        elif sig.items_hash != current_hash:
            out.append(SignatureView(sig, False, "items changed after signing"))
        else:
            out.append(SignatureView(sig, True))
    return out


def missing_slots(review: ReadinessReview, current_hash: str) -> list[str]:
    valid = {v.signature.slot for v in signature_views(review, current_hash) if v.valid}
    return [slot for slot in review.required_slots if slot not in valid]


def item_blockers(item: ReviewItem) -> str | None:
    """Why a required item does not count as done (stored state), or None."""
    if not item.required:
        return None
    if item.state == ReviewItem.State.WAIVED:
        return None
    if item.state != ReviewItem.State.PASS:
        return f"item '{item.title}' is {item.get_state_display().lower()}"
    if item.evidence_required and not item.has_evidence and not item.check_key:
        return f"item '{item.title}' passed without the required evidence"
    return None


def readiness_percent(items) -> int:
    items = list(items)
    if not items:
        return 0
    done = sum(1 for i in items if i.state in DONE_STATES)
    return round(100 * done / len(items))


@dataclass
class GateResult:
    decision: str
    reasons: list[str]
    warnings: list[str]
    checked_at: datetime
    checks: dict[str, list[str]] = field(default_factory=dict)


def gate(release: Release, *, now: datetime | None = None) -> GateResult:
    """Go only when every required item passes or is waived, every automatic check passes now,
    sign-offs are complete and valid, and ``now`` is inside the deploy window (if enforced)."""
    now = now or timezone.now()
    reasons: list[str] = []
    live: dict[str, list[str]] = {}
    review = ReadinessReview.objects.filter(release=release).first()
    if release.status not in (Release.Status.IN_REVIEW, Release.Status.APPROVED):
        if release.status == Release.Status.PLANNED:
            reasons.append("readiness review not started")
        else:
            reasons.append(f"release is {release.get_status_display().lower()}")
    if review is not None:
        items = list(review.items.select_related("waived_by").order_by("position"))
        for item in items:
            if item.check_key:
                live[item.key] = checks.run(item.check_key, release, now=now, item=item)
            if not item.required:
                continue
            if item.check_key:
                if item.state != ReviewItem.State.WAIVED:
                    reasons.extend(f"check '{item.title}': {r}" for r in live[item.key])
                continue
            blocker = item_blockers(item)
            if blocker:
                reasons.append(blocker)
        current = items_hash(items)
        names = team_names(release)
        for view in signature_views(review, current):
            if not view.valid and view.signature.slot in review.required_slots:
                reasons.append(
                    f"signature of {view.signature.signer} ({slot_label(view.signature.slot, names)}) is invalid: "
                    f"{view.why_invalid}"
                )
        for slot in missing_slots(review, current):
            reasons.append(f"sign-off missing: {slot_label(slot, names)}")
    if conf.enforce_window():
        if now < release.window_start:
            reasons.append(f"deploy window opens at {release.window_start:%Y-%m-%d %H:%M} UTC")
        elif now >= release.window_end:
            reasons.append(f"deploy window closed at {release.window_end:%Y-%m-%d %H:%M} UTC")
    # Several invalid signatures of one slot repeat nothing useful: keep the first of each text.
    reasons = list(dict.fromkeys(reasons))
    return GateResult("no-go" if reasons else "go", reasons, window_warnings(release), now, live)


def window_warnings(release: Release) -> list[str]:
    """Process risks of the chosen window: warn, never block (the gate checks coverage and rollback)."""
    tz = conf.time_zone()
    z = timeutil.zone(tz)
    start = release.window_start.astimezone(z)
    end = release.window_end.astimezone(z)
    out = []
    days = set()
    day = start.date()
    while day <= end.date() and len(days) < 31:
        days.add(day)
        day += timedelta(days=1)
    if any(d.weekday() in timeutil.WEEKEND for d in days):
        out.append("the deploy window falls on a weekend")
    hol = conf.holidays()
    for d in sorted(days & hol):
        out.append(f"the deploy window falls on a public holiday ({d:%Y-%m-%d})")
    open_at, close_at = conf.business_hours()
    outside = (
        start.time() < open_at
        or end.time() > close_at
        or start.date() != end.date()
        or any(d.weekday() in timeutil.WEEKEND or d in hol for d in days)
    )
    if outside:
        teams = {s.owner_team_id: s.owner_team.name for s in release.services.select_related("owner_team")}
        uncovered = [
            teams[t]
            for t, holes in checks.team_gaps(list(teams), release.window_start, release.window_end).items()
            if holes is None or holes
        ]
        if uncovered:
            out.append(
                f"the window is outside business hours ({open_at:%H:%M}-{close_at:%H:%M} {tz}) and "
                f"{', '.join(sorted(uncovered))} has no on-call coverage for all of it"
            )
    return out


def awaiting_signoff(user) -> QuerySet[Release]:
    """Releases in review that still need this user's signature (release-lead slot for
    release leads; the manager slot of a team they manage)."""
    from accounts.permissions import is_release_lead
    from catalog.models import Team

    open_reviews = Release.objects.filter(status=Release.Status.IN_REVIEW)
    cond = Q(pk__in=[])
    if is_release_lead(user):
        cond |= Q(pk__in=_slot_open_ids(RELEASE_LEAD_SLOT))
    for team_id in Team.objects.filter(manager=user).values_list("pk", flat=True):
        cond |= Q(pk__in=_slot_open_ids(manager_slot(team_id)))
    return open_reviews.filter(cond)


def _slot_open_ids(slot: str) -> list[int]:
    """Ids of releases in review whose review requires ``slot`` and has no standing signature
    for it (required_slots is a short JSON list, filtered in Python for SQLite's sake)."""
    rows = ReadinessReview.objects.filter(release__status=Release.Status.IN_REVIEW).values_list(
        "release_id", "required_slots"
    )
    needed = [rid for rid, slots in rows if slot in (slots or [])]
    signed = set(
        Signature.objects.filter(
            review__release_id__in=needed, slot=slot, invalidated_at__isnull=True
        ).values_list("review__release_id", flat=True)
    )
    return [rid for rid in needed if rid not in signed]
