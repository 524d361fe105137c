"""Reads: review progress, the signed content and its hash, signature validity, the gate,
window warnings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from opsportal import timeutil
from opsportal.parsing import parse_id
from readiness import checks, conf, hooks, permissions
from readiness.models import ReadinessReview, Release, ReviewItem, Signature
from readiness.permissions import RELEASE_LEAD_SLOT, SECOND_SIGNER_SLOT, manager_slot

DONE_STATES = (ReviewItem.State.PASS, ReviewItem.State.WAIVED)


# What a sign-off vouches for besides the items: the release's plan as the review judged it.
# Not covered: the name (a label; pipelines find a release by id or name + version), the status
# and the gate's cached answer. Each of these (and "services") is named when it changes.
SIGNED_RELEASE_FIELDS = (
    "version", "change_summary", "risk", "release_lead", "window_start", "window_end",
    "rollback_plan", "rollback_minutes", "rollback_tested_at", "rollback_evidence_url", "rollback_evidence_note",
)  # fmt: skip
ITEM_COLUMNS = ("key", "state", "evidence_url", "evidence_note", "waiver_reason", "waived_by")


def canonical_items(items) -> list[list]:
    """Each item's key, state, evidence and waiver, in review order."""
    return [
        [i.key, i.state, i.evidence_url, i.evidence_note, i.waiver_reason, i.waived_by_id]
        for i in sorted(items, key=lambda i: (i.position, i.key))
    ]


def _canonical_value(value):
    if isinstance(value, datetime):
        return timeutil.to_utc(value).isoformat()
    return value


def canonical_release(release: Release) -> dict:
    """The release's signed fields (datetimes as UTC ISO strings, people and services as ids;
    one query for the services)."""
    out = {
        f: _canonical_value(getattr(release, f"{f}_id" if f == "release_lead" else f))
        for f in SIGNED_RELEASE_FIELDS
    }
    out["services"] = sorted(release.services.values_list("pk", flat=True))
    return out


@dataclass(frozen=True)
class SignedContent:
    """What a signature covers now: ``data`` is stored as the signature's snapshot, ``digest``
    as its hash; ``titles`` (item key -> title) only names items in reasons."""

    data: dict
    titles: dict[str, str]

    @property
    def digest(self) -> str:
        payload = json.dumps(self.data, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def signed_content(release: Release, items) -> SignedContent:
    """The content a signature taken now would cover (one query for the services)."""
    items = list(items)
    return SignedContent(
        {"release": canonical_release(release), "items": canonical_items(items)},
        {i.key: i.title for i in items},
    )


def changes_since(snapshot, content: SignedContent) -> list[str]:
    """What differs between a signed snapshot and the content now, for people: "release
    changed after signing (risk, rollback_minutes)", "item 'Escalation path' changed after
    signing (evidence)"."""
    if isinstance(snapshot, list):  # signed before the release's plan was covered
        snapshot = {"items": snapshot}
    out = []
    signed_release = snapshot.get("release")
    now_release = content.data["release"]
    if signed_release is not None:
        fields = [
            f for f in (*SIGNED_RELEASE_FIELDS, "services") if signed_release.get(f) != now_release.get(f)
        ]
        if fields:
            out.append(f"release changed after signing ({', '.join(fields)})")
    before = {row[0]: dict(zip(ITEM_COLUMNS, row, strict=False)) for row in snapshot.get("items") or []}
    after = {row[0]: dict(zip(ITEM_COLUMNS, row, strict=False)) for row in content.data["items"]}
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        title = content.titles.get(key, key)
        if old is None or new is None:
            out.append(f"item '{title}' {'added' if old is None else 'removed'} after signing")
            continue
        what = []
        if old["state"] != new["state"]:
            what.append(f"{old['state']} -> {new['state']}")
        if (old["evidence_url"], old["evidence_note"]) != (new["evidence_url"], new["evidence_note"]):
            what.append("evidence")
        if (old["waiver_reason"], old["waived_by"]) != (new["waiver_reason"], new["waived_by"]):
            what.append("waiver")
        out.append(f"item '{title}' changed after signing" + (f" ({', '.join(what)})" if what else ""))
    return out


def why_invalid(signature: Signature, content: SignedContent) -> str:
    """Why a current signature no longer holds ("" while it does)."""
    if signature.invalidated_at is not None:
        return signature.invalidated_reason or "invalidated"
    if signature.content_hash == content.digest:
        return ""
    return (
        reason_text(changes_since(signature.snapshot, content))
        or "the signed content does not match its hash"
    )


def reason_text(changes: list[str]) -> str:
    text = "; ".join(changes)
    return text if len(text) <= 200 else text[:199] + "\u2026"


def team_managers(release: Release) -> dict[int, int | None]:
    return {s.owner_team_id: s.owner_team.manager_id for s in release.services.select_related("owner_team")}


def team_names(release: Release) -> dict[int, str]:
    """owning team id -> name, for labelling manager slots (one query)."""
    return dict(release.services.values_list("owner_team_id", "owner_team__name"))


def slot_label(slot: str, names: dict[int, str] | None = None) -> str:
    """ "release-lead" -> "release lead"; "manager:7" -> "engineering manager of Payments"."""
    if slot == RELEASE_LEAD_SLOT:
        return "release lead"
    if slot == SECOND_SIGNER_SLOT:
        return "a second signer (someone other than the person who waived)"
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

    @property
    def current(self) -> bool:
        """False for a signature superseded by a later one of its slot (history only)."""
        return self.signature.superseded_at is None


def signature_views(review: ReadinessReview, content: SignedContent) -> list[SignatureView]:
    """Every signature of the review, oldest first; superseded ones are kept for audit and
    never valid. The review page shows them all; the gate reads only the current ones."""
    out = []
    for sig in review.signatures.select_related("signer").order_by("signed_at", "pk"):
        if sig.superseded_at is not None:
            out.append(SignatureView(sig, False, sig.invalidated_reason or "superseded"))
            continue
        reason = why_invalid(sig, content)
        out.append(SignatureView(sig, not reason, reason))
    return out


def missing_slots(review: ReadinessReview, content: SignedContent, items=None) -> list[str]:
    """Required slots without a valid signature, plus the second-signer slot while the only
    person who signed also waived an item (``four_eyes_blocker``)."""
    views = signature_views(review, content)
    valid = {v.signature.slot for v in views if v.valid}
    missing = [slot for slot in review.required_slots if slot not in valid]
    items = review.items.select_related("waived_by") if items is None else items
    if four_eyes_blocker(review, items, views):
        missing.append(SECOND_SIGNER_SLOT)
    return missing


def waivers_by_person(items) -> dict[int, tuple[str, list[str]]]:
    """waiver's user id -> (their name, titles of the items they waived), in review order."""
    out: dict[int, tuple[str, list[str]]] = {}
    for item in items:
        if item.state == ReviewItem.State.WAIVED and item.waived_by_id:
            out.setdefault(item.waived_by_id, (str(item.waived_by), []))[1].append(item.title)
    return out


def four_eyes_blocker(review: ReadinessReview, items, views: list[SignatureView]) -> str | None:
    """Why one more person must sign: everyone who signed validly is one person, and that
    person waived an item. None when the signatures already have four eyes (or nobody waived)."""
    waivers = waivers_by_person(items)
    if not waivers:
        return None
    slots = {*review.required_slots, SECOND_SIGNER_SLOT}
    signers = {v.signature.signer_id for v in views if v.valid and v.signature.slot in slots}
    if len(signers) != 1:
        return None
    (only,) = signers
    if only not in waivers:
        return None
    name, titles = waivers[only]
    return (
        f"{name} waived {', '.join(repr(t) for t in titles)} and cannot be the only signer: "
        "another release lead or an owning team's manager must sign too"
    )


def waiver_notes(items) -> list[str]:
    """ "'Rollback tested' waived by Maya Chen: tested on staging only" for every waived item."""
    return [
        f"'{i.title}' waived by {i.waived_by or 'someone'}: {i.waiver_reason}"
        for i in items
        if i.state == ReviewItem.State.WAIVED
    ]


@dataclass
class SignOff:
    """What the Sign off button shows a person: enabled, or disabled with the reasons beside it."""

    allowed: bool  # the person may sign some slot of this review at all
    enabled: bool  # ... and could sign now
    slots: list[str]  # the slots their signature would fill now
    reasons: list[str]  # why it is disabled


def sign_off_for(user, release: Release, review: ReadinessReview, items, content: SignedContent) -> SignOff:
    """The Sign off button for ``user``, from stored state (``services.sign`` decides again,
    after re-evaluating the checks)."""
    managers = team_managers(release)
    names = team_names(release)
    views = signature_views(review, content)
    missing = missing_slots(review, content, items)
    mine = [s for s in review.required_slots if permissions.can_sign_slot(user, s, managers)]
    allowed = bool(mine)
    reasons = []
    if release.status not in (Release.Status.IN_REVIEW, Release.Status.APPROVED):
        reasons.append(f"the release is {release.get_status_display().lower()}")
    reasons.extend(sign_blockers(items))
    slots = [s for s in mine if s in missing]
    if SECOND_SIGNER_SLOT in missing and permissions.can_sign_slot(user, SECOND_SIGNER_SLOT, managers):
        allowed = True
        signers = {v.signature.signer_id for v in views if v.valid}
        if signers == {user.pk}:
            reasons.append(four_eyes_blocker(review, items, views) or "a second person must sign")
        else:
            slots.append(SECOND_SIGNER_SLOT)
    if allowed and not slots and not reasons:
        waiting = [slot_label(s, names) for s in missing]
        reasons.append(
            "your signature is in and covers what is stored now"
            + (f"; waiting for: {', '.join(waiting)}" if waiting else "")
        )
    return SignOff(allowed, allowed and bool(slots) and not reasons, slots, reasons)


def sign_blockers(items) -> list[str]:
    """Why nobody can sign now, from the items' stored states (the review page lists these
    beside a disabled Sign off button; ``services.sign`` re-evaluates the checks first)."""
    blockers = []
    for item in items:
        if item.check_key and item.required and item.state == ReviewItem.State.FAIL:
            blockers.append(f"check '{item.title}' fails: {'; '.join(item.check_reasons)}")
        elif not item.check_key or item.state != ReviewItem.State.PASS:
            b = item_blockers(item)
            if b:
                blockers.append(b)
    return blockers


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
    # each service's last deploy (filled by deployments through readiness.hooks)
    last_deploys: list[dict] = field(default_factory=list)
    # error budgets of the release's services (SLOs)
    budgets: list[dict] = field(default_factory=list)


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
        content = signed_content(release, items)
        names = team_names(release)
        views = signature_views(review, content)
        for view in views:
            if view.current and not view.valid and view.signature.slot in review.required_slots:
                reasons.append(
                    f"signature of {view.signature.signer} ({slot_label(view.signature.slot, names)}) is invalid: "
                    f"{view.why_invalid}"
                )
        valid = {v.signature.slot for v in views if v.valid}
        for slot in (s for s in review.required_slots if s not in valid):
            reasons.append(f"sign-off missing: {slot_label(slot, names)}")
        four_eyes = four_eyes_blocker(review, items, views)
        if four_eyes:
            reasons.append(f"sign-off missing: {four_eyes}")
        waived = waiver_notes(items)
    if conf.enforce_window():
        if now < release.window_start:
            reasons.append(f"deploy window opens at {release.window_start:%Y-%m-%d %H:%M} UTC")
        elif now >= release.window_end:
            reasons.append(f"deploy window closed at {release.window_end:%Y-%m-%d %H:%M} UTC")
    reasons = list(dict.fromkeys(reasons))
    last = hooks.last_deploys(release) if hooks.last_deploys else []
    warnings = window_warnings(release) + (hooks.gate_warnings(release, now) if hooks.gate_warnings else [])
    if review is not None:
        warnings = waived + warnings  # who waived what and why, on every answer
    budgets = checks.budget_figures(release, now=now)
    return GateResult(
        "no-go" if reasons else "go",
        reasons,
        warnings,
        now,
        live,
        last_deploys=last,
        budgets=budgets,
    )


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
