"""Every on-call write: schedules, overrides and swaps, feeds, and paging with escalation.

The paging API is what incidents, support escalations and probes call (they sit above oncall
and import it; oncall never imports them):

    open_page(title=, summary=, url=, service=, policy=, subject=, dedup_key=, ack_timeout=)
    acknowledge_page(page=, user=, via=)
    resolve_page(page=, user=, reason=)

A page and its subject settle each other: the subject's app acknowledges or resolves the page
through these functions (``via`` one of ``SUBJECT_VIAS`` when its own subject acknowledged it)
and hears about the page's acknowledgement and resolution through ``oncall.signals``.

Escalation runs as a chain of ``oncall.escalate_page(page_id, step_token)`` tasks, each
scheduled with a countdown after commit. The page row is the state machine: ``step`` (the last
notified step of this ``round``), ``step_token`` (the one delivery allowed to move it on) and
``next_step_at`` (when that should happen; the auditor resumes overdue pages). A task re-reads
the page under ``select_for_update`` and does nothing unless its token is still current, so an
acknowledged page never escalates and a duplicate or stale delivery is a no-op. Every message
goes through the notifications outbox with an idempotency key per page, round, step, level and
person, so a retried step never notifies twice.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notify
from oncall import permissions, rotation, selectors
from oncall.models import (
    CalendarFeed,
    EscalationLevel,
    EscalationPolicy,
    LayerMember,
    LayerRestriction,
    Override,
    Page,
    PageEvent,
    RotationLayer,
    Schedule,
    ServicePolicy,
)
from oncall.signals import page_acknowledged, page_resolved
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_url
from opsportal.timeutil import localize

log = logging.getLogger(__name__)

ACK_SALT = "oncall.page-acknowledge"

# ``via`` of an acknowledgement made by the page's subject (its incident or escalation was
# acknowledged). An acknowledgement through a person's door (link, admin, API) that meets one
# of these - or one of these meeting a person's - finds the page in the state it asked for and
# returns it: both doors meant "someone is on it", so neither caller gets a Conflict. Two
# acknowledgements through people's doors still race, and the loser gets a Conflict.
SUBJECT_VIAS = frozenset({"incident", "escalation"})
CHANGE_NOTICE_WINDOW = timedelta(days=28)


def _setting(name: str, default):
    return getattr(settings, name, default)


def ack_link_max_age() -> int:
    return int(_setting("ONCALL_ACK_LINK_MAX_AGE", 24 * 3600))


def handoff_lead() -> timedelta:
    return timedelta(minutes=int(_setting("ONCALL_HANDOFF_LEAD_MINUTES", 60)))


def audit_grace() -> timedelta:
    return timedelta(seconds=int(_setting("ONCALL_AUDIT_GRACE_SECONDS", 60)))


def _fmt(dt: datetime, tz: str) -> str:
    return dt.astimezone(rotation.zone(tz)).strftime("%a %d %b %H:%M %Z")


# --- shift changes ------------------------------------------------------------------------


def shift_snapshot(schedule: Schedule, *, now: datetime | None = None) -> list[rotation.Shift]:
    """The next four weeks of final shifts, taken before a change to compare afterwards."""
    now = now or timezone.now()
    return selectors.final_shifts(schedule, now, now + CHANGE_NOTICE_WINDOW)


def announce_shift_changes(
    *, schedule: Schedule, before: list[rotation.Shift], now: datetime | None = None
) -> list:
    """Tell each person whose shifts in the next four weeks changed (added, removed, moved).
    The idempotency key names the resulting shifts, so repeating an announcement is silent."""
    now = now or timezone.now()
    after = selectors.final_shifts(schedule, now, now + CHANGE_NOTICE_WINDOW)

    def per_user(shifts):
        out: dict[int, set] = {}
        for s in shifts:
            out.setdefault(s.user, set()).add((s.start, s.end))
        return out

    old, new = per_user(before), per_user(after)
    changed = [pk for pk in set(old) | set(new) if old.get(pk, set()) != new.get(pk, set())]
    people = selectors.users_by_id(changed)
    sent = []
    for pk in sorted(changed):
        user = people.get(pk)
        if user is None:
            continue
        mine = sorted(new.get(pk, set()))
        fingerprint = hashlib.sha256(
            repr([(s.isoformat(), e.isoformat()) for s, e in mine]).encode()
        ).hexdigest()[:16]
        rows = [[_fmt(s, schedule.time_zone), _fmt(e, schedule.time_zone)] for s, e in mine[:20]]
        sent += notify(
            recipients=[user],
            kind="update",
            template="oncall/shifts_changed",
            context={
                "title": f"Your on-call shifts on {schedule.name} changed",
                "url": absolute_url(schedule.get_absolute_url()),
                "schedule": schedule.name,
                "shifts": rows,
                "fields": [["Schedule", schedule.name], ["Shifts in the next 4 weeks", str(len(mine))]],
            },
            idempotency_key=f"oncall:shifts:{schedule.pk}:{pk}:{now:%Y%m%d%H}:{fingerprint}",
            related=schedule,
        )
    return sent


# --- overrides and swaps ------------------------------------------------------------------


def _check_window(start: datetime, end: datetime) -> None:
    if start is None or end is None:
        raise InvalidInput("Give a start and an end.", field="start" if start is None else "end")
    for field, value in (("start", start), ("end", end)):
        if timezone.is_naive(value):  # never read as UTC silently: the read endpoints refuse it too
            raise InvalidInput(f"Give the {field} with a time zone (Z or +01:00).", field=field)
    if end <= start:
        raise InvalidInput("The end must be after the start.", field="end")
    if end - start > timedelta(days=90):
        raise InvalidInput("An override lasts at most 90 days; change the rotation instead.", field="end")


def validate_override(*, schedule: Schedule, user, start, end, actor, covers=None, editing=None) -> None:
    """Every check an override or swap must pass (the admin form runs it before saving)."""
    _check_window(start, end)
    if user is None or not user.is_active:
        raise InvalidInput("Pick an active person to be on call.", field="user")
    if covers is None:
        if not permissions.can_override(actor, schedule, user):
            raise NotAllowed("You may only put yourself on call on your own team's schedules.")
        return
    if covers.pk == user.pk:
        raise InvalidInput("Pick a teammate other than the person being covered.", field="user")
    if not permissions.can_swap(actor, covers, user):
        raise NotAllowed("A swap is arranged by one of the two people involved or by a manager.")
    others = [editing.pk] if editing is not None else []
    if not any(
        s.user == covers.pk for s in selectors.final_shifts(schedule, start, end, without_overrides=others)
    ):
        raise InvalidInput(f"{covers} is not on call on {schedule} during that time.", field="covers")


@transaction.atomic
def create_override(
    *, schedule: Schedule, user, start: datetime, end: datetime, reason: str = "", actor
) -> Override:
    """Put ``user`` on call over [start, end) on top of every layer."""
    validate_override(schedule=schedule, user=user, start=start, end=end, actor=actor)
    before = shift_snapshot(schedule)
    override = Override(schedule=schedule, user=user, start=start, end=end, reason=reason, created_by=actor)
    override.full_clean()
    override.save()
    announce_shift_changes(schedule=schedule, before=before)
    return override


@transaction.atomic
def swap_shift(
    *, schedule: Schedule, covered, covering, start: datetime, end: datetime, reason: str = "", actor
) -> Override:
    """``covering`` takes [start, end) of ``covered``'s shift; recorded with both names."""
    validate_override(schedule=schedule, user=covering, start=start, end=end, actor=actor, covers=covered)
    before = shift_snapshot(schedule)
    override = Override(
        schedule=schedule, user=covering, covers=covered, kind=Override.Kind.SWAP,
        start=start, end=end, reason=reason, created_by=actor,
    )  # fmt: skip
    override.full_clean()
    override.save()
    announce_shift_changes(schedule=schedule, before=before)
    return override


@transaction.atomic
def save_schedule(*, schedule: Schedule | None = None, actor=None, **fields) -> Schedule:
    schedule = schedule or Schedule()
    if actor is not None and not permissions.can_manage_schedule(actor, schedule):
        raise NotAllowed("Only engineering managers edit schedules.")
    for name, value in fields.items():
        setattr(schedule, name, value)
    schedule.full_clean()
    schedule.save()
    return schedule


# --- rotation layers ------------------------------------------------------------------------

# Layer dates stay in this range (the database checks it too), so expanding a layer's shifts
# can never run past the last date Python or PostgreSQL can represent.
LAYER_FIRST_DAY = date(2000, 1, 1)
LAYER_LAST_DAY = date(2100, 12, 31)
_RANGE = "the years 2000 to 2100"


def participants_error(participants: Sequence) -> str | None:
    """Why this rotation order is refused, or None. ``participants`` are the people (users or
    ids) in rotation order.

    A layer needs someone, and nobody may have two turns in a row. The rotation repeats, so
    the order is a cycle: the last person hands over to the first. ``[a, b, a]`` therefore
    gives ``a`` two turns back to back at every wrap and is refused; ``[a, b, a, c]`` is fine
    (``a`` takes two turns per cycle, never consecutive); ``[a]`` alone is fine (one person is
    the whole rotation)."""
    people = list(participants)
    if not people:
        return "A layer needs at least one participant."
    n = len(people)
    for i in range(n if n > 1 else 0):
        j = (i + 1) % n
        if _person_key(people[i]) == _person_key(people[j]):
            wrap = " - the rotation repeats, so the last person hands over to the first" if j == 0 else ""
            return (
                f"{people[i]} would be on call twice in a row (positions {i + 1} and {j + 1} of the "
                f"rotation order{wrap}); put someone else between them."
            )
    return None


def _person_key(person):
    return getattr(person, "pk", person)


def layer_errors(layer: dict, *, time_zone: str) -> dict[str, str]:
    """Every field error of one layer definition (``save_schedule_definition``'s layer shape,
    or a layer form's cleaned data), as {field: message}. Participants are checked when the
    definition carries them."""
    errors: dict[str, str] = {}
    start_date = layer.get("start_date")
    handoff = layer.get("handoff_time") or RotationLayer._meta.get_field("handoff_time").default
    end_at = layer.get("end_at")
    if start_date is not None and not LAYER_FIRST_DAY <= start_date <= LAYER_LAST_DAY:
        errors["start_date"] = f"Pick a start date in {_RANGE}."
    if end_at is not None:
        if timezone.is_naive(end_at):
            errors["end_at"] = "Give the end with a time zone (Z or +01:00)."
        elif not LAYER_FIRST_DAY.year <= end_at.astimezone(UTC).year <= LAYER_LAST_DAY.year:
            errors["end_at"] = f"Pick an end in {_RANGE}."
        elif start_date is not None and "start_date" not in errors:
            message = _end_error(start_date, handoff, end_at, time_zone)
            if message:
                errors["end_at"] = message
    if "participants" in layer:
        message = participants_error(layer["participants"])
        if message:
            errors["participants"] = message
    return errors


def _end_error(start_date: date, handoff: time, end_at: datetime, time_zone: str) -> str | None:
    """The end must come after the first handoff (start date at handoff time, schedule zone).
    The database can only compare with the start date's midnight UTC (it has no zone), which
    is later than the first handoff in zones east of UTC: the end must pass both."""
    midnight = datetime.combine(start_date, time(0), tzinfo=UTC)
    try:
        first = localize(start_date, handoff, time_zone)
    except (ZoneInfoNotFoundError, ValueError):  # the zone itself gets its own field error
        first, time_zone = midnight, "UTC"
    if end_at > max(first, midnight):
        return None
    message = f"The layer must end after it starts: its first handoff is {_fmt_day(first, time_zone)}"
    if end_at > first:
        message += f", and a layer cannot end before {start_date:%d %b %Y} 00:00 UTC"
    return message + "."


def _fmt_day(dt: datetime, tz: str) -> str:
    return dt.astimezone(rotation.zone(tz)).strftime("%a %d %b %Y %H:%M %Z")


@transaction.atomic
def save_schedule_definition(
    *, schedule: Schedule | None = None, layers: list[dict] | None = None, actor, **fields
) -> Schedule:
    """Create or edit a schedule; ``layers`` (when given) replaces every layer with
    ``{name, position, rotation_length, rotation_unit, start_date, handoff_time, end_at,
    participants: [user, ...] in order, restrictions: [{weekdays: [0..6], start_time, end_time}]}``.
    People whose next four weeks change are told."""
    before = shift_snapshot(schedule) if schedule is not None and schedule.pk else []
    schedule = save_schedule(schedule=schedule, actor=actor, **fields)
    if layers is not None:
        positions = [layer.get("position", i + 1) for i, layer in enumerate(layers)]
        if len(set(positions)) != len(positions):
            raise InvalidInput("Two layers cannot share a position.", field="layers")
        for position, layer in zip(positions, layers, strict=True):
            errors = layer_errors({"participants": [], **layer}, time_zone=schedule.time_zone)
            if errors:
                field, message = next(iter(errors.items()))
                name = layer.get("name") or RotationLayer._meta.get_field("name").default
                raise InvalidInput(f"Layer {position} ({name}), {field}: {message}", field="layers")
        for old in schedule.layers.all():
            old.delete()  # one by one so history records each removal
        for i, data in enumerate(layers):
            data = dict(data)
            participants = data.pop("participants", [])
            restrictions = data.pop("restrictions", [])
            data.setdefault("position", i + 1)
            layer = RotationLayer(schedule=schedule, **data)
            layer.full_clean(exclude=["schedule"])
            layer.save()
            _add_people_and_limits(layer, participants, restrictions)
    if before:
        announce_shift_changes(schedule=schedule, before=before)
    return schedule


def _add_people_and_limits(layer: RotationLayer, participants, restrictions) -> None:
    """Participants in rotation order, and restrictions ``{weekdays: "0123" or [0, 1, ...],
    start_time, end_time}``, added to a layer that has none."""
    for position, user in enumerate(participants):
        LayerMember.objects.create(layer=layer, user=user, position=position)
    for r in restrictions:
        days = "".join(sorted({str(int(d)) for d in r.get("weekdays", [])}))
        restriction = LayerRestriction(
            layer=layer, weekdays=days, start_time=r["start_time"], end_time=r["end_time"]
        )
        restriction.full_clean(exclude=["layer"])
        restriction.save()


@transaction.atomic
def save_policy(
    *, policy: EscalationPolicy | None = None, levels: list[dict] | None = None, actor, **fields
) -> EscalationPolicy:
    """Create or edit a policy; ``levels`` replaces every level with
    ``{position, delay_minutes, schedules: [...], include_next_on_call, users: [...]}``.
    Pages already running keep the snapshot they took when they opened."""
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers edit escalation policies.")
    policy = policy or EscalationPolicy()
    for name, value in fields.items():
        setattr(policy, name, value)
    if policy.is_team_default and policy.team_id:
        for other in EscalationPolicy.objects.filter(team_id=policy.team_id, is_team_default=True).exclude(
            pk=policy.pk
        ):
            other.is_team_default = False  # one default per team: the new one takes over
            other.save(update_fields=["is_team_default"])
    policy.full_clean()
    policy.save()
    if levels is not None:
        if not levels:
            raise InvalidInput("A policy needs at least one level.", field="levels")
        for old in policy.levels.all():
            old.delete()
        for i, data in enumerate(levels):
            data = dict(data)
            schedules = data.pop("schedules", [])
            users = data.pop("users", [])
            data.setdefault("position", i + 1)
            level = EscalationLevel(policy=policy, **data)
            level.full_clean(exclude=["policy"])
            level.save()
            level.schedules.set(schedules)
            level.users.set(users)
    return policy


@transaction.atomic
def delete_override(*, override: Override, actor) -> None:
    if not permissions.can_change_override(actor, override):
        raise NotAllowed("You may only remove overrides you are part of or arranged.")
    schedule = override.schedule
    before = shift_snapshot(schedule)
    override.delete()
    announce_shift_changes(schedule=schedule, before=before)


@transaction.atomic
def update_override(
    *, override: Override, actor, start: datetime, end: datetime, reason: str = ""
) -> Override:
    """Move or re-word an override or swap; it must pass the same checks as a new one."""
    locked = Override.objects.select_for_update().select_related("schedule").get(pk=override.pk)
    if not permissions.can_change_override(actor, locked):
        raise NotAllowed("You may only change overrides you are part of or arranged.")
    validate_override(
        schedule=locked.schedule,
        user=locked.user,
        start=start,
        end=end,
        actor=actor,
        covers=locked.covers,
        editing=locked,
    )
    before = shift_snapshot(locked.schedule)
    locked.start, locked.end, locked.reason = start, end, reason or ""
    locked.full_clean()
    locked._history_user = actor
    locked.save()
    announce_shift_changes(schedule=locked.schedule, before=before)
    return locked


# --- layers (one at a time: the admin edits a layer and its people on one page) -------------


def _require_schedule_manager(actor, schedule: Schedule) -> None:
    if actor is not None and not permissions.can_manage_schedule(actor, schedule):
        raise NotAllowed("Only engineering managers edit schedules.")


@transaction.atomic
def save_layer(
    *,
    layer: RotationLayer | None = None,
    actor,
    members: list | None = None,
    restrictions: list[dict] | None = None,
    announce: bool = True,
    **fields,
) -> RotationLayer:
    """Create or edit one rotation layer. ``members`` (users, in rotation order) and
    ``restrictions`` (``{weekdays: "0123" or [0, 1, ...], start_time, end_time}``) replace the
    layer's when given. People whose next four weeks change are told (``announce``)."""
    layer = layer or RotationLayer()
    for name, value in fields.items():
        setattr(layer, name, value)
    schedule = Schedule.objects.get(pk=layer.schedule_id) if layer.schedule_id else None
    if schedule is None:
        raise InvalidInput("A layer belongs to a schedule.", field="schedule")
    _require_schedule_manager(actor, schedule)
    definition = {"start_date": layer.start_date, "handoff_time": layer.handoff_time, "end_at": layer.end_at}
    if members is not None or layer.pk is None:
        definition["participants"] = list(members or [])
    errors = layer_errors(definition, time_zone=schedule.time_zone)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(message, field=name)
    before = shift_snapshot(schedule) if announce else []
    layer.full_clean()
    layer._history_user = actor
    layer.save()
    if members is not None:
        layer.members.all().delete()
    if restrictions is not None:
        layer.restrictions.all().delete()
    _add_people_and_limits(layer, members or [], restrictions or [])
    if before:
        announce_shift_changes(schedule=schedule, before=before)
    return layer


@transaction.atomic
def delete_layer(*, layer: RotationLayer, actor, announce: bool = True) -> None:
    schedule = layer.schedule
    _require_schedule_manager(actor, schedule)
    before = shift_snapshot(schedule) if announce else []
    layer.delete()
    if before:
        announce_shift_changes(schedule=schedule, before=before)


@transaction.atomic
def delete_schedule(*, schedule: Schedule, actor) -> None:
    _require_schedule_manager(actor, schedule)
    schedule.delete()


# --- service policies -------------------------------------------------------------------------


@transaction.atomic
def save_service_policy(*, service_policy: ServicePolicy | None = None, actor, **fields) -> ServicePolicy:
    """Give a service its own escalation policy (instead of its team's default)."""
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers choose a service's escalation policy.")
    row = service_policy or ServicePolicy()
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row._history_user = actor
    row.save()
    return row


@transaction.atomic
def delete_service_policy(*, service_policy: ServicePolicy, actor) -> None:
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers choose a service's escalation policy.")
    service_policy.delete()


@transaction.atomic
def delete_policy(*, policy: EscalationPolicy, actor) -> None:
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers edit escalation policies.")
    if ServicePolicy.objects.filter(policy=policy).exists():
        names = ", ".join(str(sp.service) for sp in ServicePolicy.objects.filter(policy=policy)[:5])
        raise Conflict(f"{policy} is still the escalation policy of {names}.")
    policy.delete()


# --- feeds --------------------------------------------------------------------------------


@transaction.atomic
def create_feed(*, schedule: Schedule | None = None, user=None, actor) -> CalendarFeed:
    if (schedule is None) == (user is None):
        raise InvalidInput("A feed is for one schedule or one person.")
    if user is not None and user.pk != actor.pk and not permissions.is_manager(actor):
        raise NotAllowed("You may only create a feed of your own shifts.")
    return CalendarFeed.objects.create(schedule=schedule, user=user, created_by=actor)


@transaction.atomic
def revoke_feed(*, feed: CalendarFeed, actor) -> CalendarFeed:
    feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
    if feed.user_id and feed.user_id != actor.pk and not permissions.is_manager(actor):
        raise NotAllowed("You may only revoke your own feed.")
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
    return feed


# --- paging -------------------------------------------------------------------------------


def ack_token(page: Page, user) -> str:
    """A signed, single-purpose (salted), expiring token: acknowledge this page as this user."""
    return signing.dumps({"page": page.pk, "user": user.pk}, salt=ACK_SALT, compress=True)


def read_ack_token(token: str) -> tuple[int, int]:
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ack_link_max_age())
        return int(data["page"]), int(data["user"])
    except signing.SignatureExpired as exc:
        raise InvalidInput("This acknowledge link has expired; acknowledge from the admin instead.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("This acknowledge link is not valid.") from exc


def ack_url(page: Page, user) -> str:
    return absolute_url(reverse("oncall:acknowledge", args=[ack_token(page, user)]))


def _event(page: Page, kind: str, *, at: datetime, level=None, user=None, note: str = "") -> PageEvent:
    return PageEvent.objects.create(page=page, kind=kind, at=at, level=level, user=user, note=note[:300])


def _levels(page: Page) -> list[dict]:
    return page.policy_snapshot.get("levels", [])


def _total_steps(page: Page) -> int:
    return len(_levels(page)) * (int(page.policy_snapshot.get("repeat", 0)) + 1)


def _schedule_step(page: Page, at: datetime) -> None:
    from oncall import tasks

    page.step_token = secrets.token_hex(8)
    page.next_step_at = at
    token, pk = page.step_token, page.pk
    countdown = max(0.0, (at - timezone.now()).total_seconds())

    def publish() -> None:
        # Called on commit: a broker outage must not turn the caller's committed request into
        # an error. next_step_at is stored, so the beat auditor (audit_pages) resumes the page.
        try:
            tasks.escalate_page.apply_async(args=[pk, token], countdown=countdown)
        except Exception:
            log.exception("oncall: could not schedule step of page %s; the auditor will resume it", pk)

    transaction.on_commit(publish)


def _notify_level(page: Page, step: int, level: dict, users: list, now: datetime) -> None:
    position = level["position"]
    cycle = step // max(1, len(_levels(page)))
    for user in users:
        notify(
            recipients=[user],
            kind="page",
            template="oncall/page",
            context={
                "title": page.title,
                "summary": page.summary,
                "url": page.url or absolute_url(page.get_absolute_url()),
                "page_url": absolute_url(page.get_absolute_url()),
                "ack_url": ack_url(page, user),
                "level": position,
                "cycle": cycle + 1,
                "service": page.service.name if page.service_id else "",
                "fields": [
                    ["Service", page.service.name if page.service_id else "-"],
                    ["Escalation level", f"{position}" + (f" (repeat {cycle})" if cycle else "")],
                ],
                "actions": [
                    ["Acknowledge", ack_url(page, user)],
                    ["Open page", absolute_url(page.get_absolute_url())],
                ],
            },
            idempotency_key=f"oncall:page:{page.pk}:r{page.round}:s{step}:l{position}:u{user.pk}",
            related=page,
        )
        _event(page, PageEvent.Kind.NOTIFIED, at=now, level=position, user=user)


def _run_from(page: Page, step: int, now: datetime) -> None:
    """Notify the first level from ``step`` on that resolves to somebody (skipping empty ones
    at once), then schedule the next step after its delay; mark the page exhausted when no
    steps remain. The caller holds the page's row lock."""
    levels = _levels(page)
    total = _total_steps(page)
    while step < total:
        level = levels[step % len(levels)]
        resolved = selectors.resolve_levels([level], now)[0]
        if resolved.users:
            _notify_level(page, step, level, resolved.users, now)
            page.step = step
            _schedule_step(page, now + timedelta(minutes=level["delay_minutes"]))
            page.save(update_fields=["step", "step_token", "next_step_at"])
            return
        _event(
            page, PageEvent.Kind.SKIPPED, at=now, level=level["position"], note="Nobody on call or listed."
        )
        step += 1
    page.status = Page.Status.EXHAUSTED
    page.step = max(0, total - 1)
    page.step_token = ""
    page.next_step_at = None
    page.save(update_fields=["status", "step", "step_token", "next_step_at"])
    _event(page, PageEvent.Kind.EXHAUSTED, at=now, note="Every level was tried and nobody acknowledged.")
    log.warning("page %s exhausted its escalation policy", page.pk)


def open_page(
    *,
    title: str,
    summary: str,
    url: str,
    service=None,
    policy: EscalationPolicy | None = None,
    subject=None,
    dedup_key: str,
    ack_timeout: timedelta | None = None,
) -> Page:
    """Open a page and notify level 1 (through the outbox, after commit). A repeated open with
    the ``dedup_key`` of a page that is still open returns that page and notifies nobody."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput("A page needs a title.", field="title")
    if not dedup_key or len(dedup_key) > 200:
        raise InvalidInput("A dedup key of at most 200 characters is required.", field="dedup_key")
    existing = Page.objects.filter(dedup_key=dedup_key, status__in=Page.OPEN).first()
    if existing:
        return existing
    if policy is None and service is not None:
        policy = selectors.policy_for_service(service)
    if policy is None:
        raise InvalidInput("No escalation policy: give one, or set a default policy for the service's team.")
    if ack_timeout is None and service is not None:
        ack_timeout = selectors.ack_timeout_for_service(service)
    snap = selectors.snapshot(policy)
    if not snap["levels"]:
        raise InvalidInput(f"The escalation policy {policy} has no levels.", field="policy")
    now = timezone.now()
    try:
        with transaction.atomic():
            page = Page.objects.create(
                title=title[:200], summary=summary or "", url=url or "", service=service, policy=policy,
                policy_snapshot=snap, dedup_key=dedup_key, ack_timeout=ack_timeout,
                subject_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
                subject_id=str(subject.pk) if subject is not None else "",
            )  # fmt: skip
            _event(page, PageEvent.Kind.TRIGGERED, at=now, note=f"Policy {policy.name}")
            # No re-read under a lock: until this transaction commits, no other one can see
            # (let alone lock) the row it just inserted.
            _run_from(page, 0, now)
    except IntegrityError:
        # A concurrent open with the same key won the partial unique index: return its page.
        existing = Page.objects.filter(dedup_key=dedup_key, status__in=Page.OPEN).first()
        if existing is None:
            raise
        return existing
    return page


def page_by_hand(
    *,
    actor,
    title: str,
    summary: str = "",
    url: str = "",
    service=None,
    policy: EscalationPolicy | None = None,
    dedup_key: str = "",
    ack_timeout: timedelta | None = None,
) -> Page:
    """A person pages on-call directly (the admin's "Page on-call" form, ``POST /api/v1/pages/``):
    who may is ``permissions.can_open_page``. Without a dedup key every call is a new page."""
    if not permissions.can_open_page(actor):
        raise NotAllowed("Only engineering managers and responders page on-call by hand.")
    if service is None and policy is None:
        raise InvalidInput(
            "Choose the service that has the problem, or an escalation policy.", field="service"
        )
    return open_page(
        title=title,
        summary=summary,
        url=url,
        service=service,
        policy=policy,
        dedup_key=dedup_key or f"manual:{secrets.token_hex(8)}",
        ack_timeout=ack_timeout,
    )


def acknowledge_page(*, page: Page, user, via: str) -> Page:
    """Acknowledge: escalation stops; the loser of a race gets Conflict naming the winner.
    ``page_acknowledged`` is sent after commit (incidents acknowledges its incident).

    When either this acknowledgement or the one already recorded came from the page's subject
    (``via`` in ``SUBJECT_VIAS``), the page is returned as it is: no Conflict, no second event,
    no second signal."""
    with transaction.atomic():
        locked = Page.objects.select_for_update().get(pk=page.pk)
        if locked.status == Page.Status.ACKNOWLEDGED and (
            via in SUBJECT_VIAS or locked.acknowledged_via in SUBJECT_VIAS
        ):
            return locked
        if locked.status == Page.Status.ACKNOWLEDGED:
            who = selectors.users_by_id([locked.acknowledged_by_id]).get(locked.acknowledged_by_id)
            raise Conflict(
                f"Already acknowledged by {who or 'someone'} at {locked.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC."
            )
        if locked.status == Page.Status.RESOLVED:
            raise Conflict(f"Already resolved at {locked.resolved_at:%Y-%m-%d %H:%M:%S} UTC.")
        now = timezone.now()
        locked.status = Page.Status.ACKNOWLEDGED
        locked.acknowledged_by = user
        locked.acknowledged_at = now
        locked.acknowledged_via = (via or "")[:20]
        locked.step_token = ""
        locked.next_step_at = None
        if locked.ack_timeout:
            _schedule_step(locked, now + locked.ack_timeout)
        locked.save(
            update_fields=[
                "status",
                "acknowledged_by",
                "acknowledged_at",
                "acknowledged_via",
                "step_token",
                "next_step_at",
            ]
        )
        _event(locked, PageEvent.Kind.ACKNOWLEDGED, at=now, user=user, note=f"via {via}")
        transaction.on_commit(lambda: page_acknowledged.send(sender=Page, page=locked, user=user, at=now))
    return locked


def resolve_page(*, page: Page, user=None, reason: str = "") -> Page:
    """Resolve: escalation stops for good. ``user`` None means automation (a recovered probe).
    A second resolution gets Conflict saying when. ``page_resolved`` is sent after commit
    (incidents resolves its incident, escalations its escalations, when ``user`` is a person)."""
    with transaction.atomic():
        locked = Page.objects.select_for_update().get(pk=page.pk)
        if locked.status == Page.Status.RESOLVED:
            raise Conflict(f"Already resolved at {locked.resolved_at:%Y-%m-%d %H:%M:%S} UTC.")
        now = timezone.now()
        locked.status = Page.Status.RESOLVED
        locked.resolved_by = user
        locked.resolved_at = now
        locked.resolve_reason = (reason or "")[:200]
        locked.step_token = ""
        locked.next_step_at = None
        locked.save(
            update_fields=[
                "status",
                "resolved_by",
                "resolved_at",
                "resolve_reason",
                "step_token",
                "next_step_at",
            ]
        )
        _event(locked, PageEvent.Kind.RESOLVED, at=now, user=user, note=reason)
        transaction.on_commit(
            lambda: page_resolved.send(sender=Page, page=locked, user=user, at=now, reason=reason)
        )
    return locked


def advance_page(*, page_id: int, step_token: str) -> bool:
    """Run the step ``step_token`` was issued for, once. False when stale, duplicate or moot."""
    if not step_token:
        return False
    with transaction.atomic():
        page = Page.objects.select_for_update().filter(pk=page_id).first()
        if page is None or page.step_token != step_token:
            return False
        now = timezone.now()
        if page.status == Page.Status.TRIGGERED:
            _event(
                page, PageEvent.Kind.ESCALATED, at=now, note="No acknowledgement within the level's delay."
            )
            _run_from(page, page.step + 1, now)
            return True
        if page.status == Page.Status.ACKNOWLEDGED:
            # Acknowledgement timeout: the page is still open, so it starts escalating again.
            page.status = Page.Status.TRIGGERED
            page.round += 1
            page.save(update_fields=["status", "round"])
            _event(page, PageEvent.Kind.RENOTIFIED, at=now, note="Acknowledged but not resolved in time.")
            _run_from(page, 0, now)
            return True
        return False


def audit_pages(*, now: datetime | None = None) -> list[int]:
    """Resume pages whose next step is overdue (a lost task or a dead worker)."""
    now = now or timezone.now()
    due = list(
        Page.objects.filter(
            status__in=[Page.Status.TRIGGERED, Page.Status.ACKNOWLEDGED],
            next_step_at__isnull=False,
            next_step_at__lt=now - audit_grace(),
        )
        .order_by("next_step_at")
        .values_list("pk", "step_token")[:500]
    )
    resumed = []
    for pk, token in due:
        if advance_page(page_id=pk, step_token=token):
            log.warning("auditor resumed overdue page %s", pk)
            resumed.append(pk)
    return resumed


# --- handoff notices ----------------------------------------------------------------------


def send_handoff_notices(*, now: datetime | None = None, schedules: Iterable[int] | None = None) -> int:
    """Before each shift starts (default one hour), tell the incoming person, and remind the
    outgoing one to hand over. Runs every few minutes from beat; idempotency keys per shift
    make repeats silent."""
    now = now or timezone.now()
    lead = handoff_lead()
    ids = list(schedules) if schedules is not None else list(Schedule.objects.values_list("pk", flat=True))
    defs = selectors.specs(ids, now - timedelta(days=1), now + lead + timedelta(seconds=1))
    names = dict(Schedule.objects.filter(pk__in=defs).values_list("pk", "name"))
    plans = []
    for pk, spec in defs.items():
        shifts = rotation.final_shifts(spec, now - timedelta(days=1), now + lead + timedelta(seconds=1))
        for prev, sh in zip([None, *shifts], shifts, strict=False):
            if now < sh.start <= now + lead:
                outgoing = (
                    prev.user if prev is not None and prev.end == sh.start and prev.user != sh.user else None
                )
                if prev is not None and prev.end == sh.start and prev.user == sh.user:
                    continue  # the same person carries on: nothing to hand over
                plans.append((pk, spec.time_zone, sh, outgoing))
    people = selectors.users_by_id([p[2].user for p in plans] + [p[3] for p in plans])
    keys = {f"oncall:handoff:{pk}:{sh.user}:{sh.start:%Y%m%dT%H%M%SZ}" for pk, _tz, sh, _o in plans} | {
        f"oncall:handover:{pk}:{o}:{sh.start:%Y%m%dT%H%M%SZ}" for pk, _tz, sh, o in plans if o is not None
    }
    already = set(Notification.objects.filter(event_key__in=keys).values_list("event_key", flat=True))
    schedules_by_id = Schedule.objects.in_bulk([p[0] for p in plans])
    sent = 0
    for pk, tz, sh, outgoing in plans:
        schedule = schedules_by_id[pk]
        url = absolute_url(schedule.get_absolute_url())
        incoming = people.get(sh.user)
        stamp = sh.start.strftime("%Y%m%dT%H%M%SZ")
        if incoming is not None and f"oncall:handoff:{pk}:{sh.user}:{stamp}" not in already:
            sent += len(
                notify(
                    recipients=[incoming],
                    kind="reminder",
                    template="oncall/handoff",
                    context={
                        "title": f"You are on call for {names[pk]} from {_fmt(sh.start, tz)}",
                        "url": url,
                        "schedule": names[pk],
                        "start": _fmt(sh.start, tz),
                        "end": _fmt(sh.end, tz),
                        "incoming": True,
                    },
                    idempotency_key=f"oncall:handoff:{pk}:{sh.user}:{stamp}",
                    related=schedule,
                )
            )
        if (
            outgoing is not None
            and people.get(outgoing) is not None
            and f"oncall:handover:{pk}:{outgoing}:{stamp}" not in already
        ):
            sent += len(
                notify(
                    recipients=[people[outgoing]],
                    kind="reminder",
                    template="oncall/handoff",
                    context={
                        "title": f"Hand over {names[pk]} to {incoming} at {_fmt(sh.start, tz)}",
                        "url": url,
                        "schedule": names[pk],
                        "start": _fmt(sh.start, tz),
                        "incoming": False,
                        "next_person": str(incoming),
                    },
                    idempotency_key=f"oncall:handover:{pk}:{outgoing}:{stamp}",
                    related=schedule,
                )
            )
    return sent
