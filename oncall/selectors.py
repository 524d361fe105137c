"""Reads: schedules turned into engine definitions, who is on call, shifts, gaps, fairness.

Everything loads in a fixed number of queries however many schedules are asked about (one
each for schedules, layers, participants, restrictions, overrides and the people named), then
the pure engine in ``oncall/rotation.py`` does the arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from identity.models import Departure
from oncall import rotation
from oncall.models import (
    CalendarFeed,
    EscalationPolicy,
    LayerMember,
    LayerRestriction,
    Override,
    RotationLayer,
    Schedule,
    ServicePolicy,
)

# When a person left (identity.Departure, the explicit decision recorded when they were
# deactivated): a subquery on the member and override rows, so the departure costs no query of
# its own. From then on their turns show as gaps (rotation.Schedule.departed).
_LEFT_AT = Subquery(
    Departure.objects.filter(user_id=OuterRef("user_id"), reverted_at__isnull=True).values("at")[:1]
)

# How far around "now" overrides are loaded for who-is-on-call answers (shift bounds shown as
# "until" are clipped to this context; see rotation.on_call_at).
ON_CALL_CONTEXT = timedelta(days=2)
NEXT_HORIZON = timedelta(days=62)


def specs(
    schedules: Iterable[Schedule] | Iterable[int],
    start: datetime,
    end: datetime,
    *,
    without_overrides: Iterable[int] = (),
) -> dict[int, rotation.Schedule]:
    """Engine definitions for the given schedules with overrides overlapping [start, end).
    Five flat queries whatever the number of schedules (values() rows, not model instances:
    building thousands of layer objects with prefetches costs more than the arithmetic)."""
    if isinstance(schedules, QuerySet):
        # A subquery instead of thousands of bound ids (building big IN lists costs more
        # than running the query).
        ids = schedules.order_by().values("pk")
    else:
        ids = [s if isinstance(s, int) else s.pk for s in schedules]
    zones = dict(Schedule.objects.filter(pk__in=ids).values_list("pk", "time_zone"))
    layer_rows = list(
        RotationLayer.objects.filter(schedule_id__in=ids)
        .order_by("schedule_id", "position", "pk")
        .values_list(
            "pk", "schedule_id", "rotation_unit", "rotation_length", "start_date", "handoff_time", "end_at"
        )
    )
    people: dict[int, list[int]] = defaultdict(list)
    departed: dict[int, dict[int, datetime]] = defaultdict(dict)
    for layer_id, user_id, schedule_id, left in (
        LayerMember.objects.filter(layer__schedule_id__in=ids)
        .annotate(left=_LEFT_AT)
        .order_by("layer_id", "position", "pk")
        .values_list("layer_id", "user_id", "layer__schedule_id", "left")
    ):
        people[layer_id].append(user_id)
        if left is not None:
            departed[schedule_id][user_id] = left
    limits: dict[int, list[rotation.Restriction]] = defaultdict(list)
    for layer_id, days, r_start, r_end in LayerRestriction.objects.filter(
        layer__schedule_id__in=ids
    ).values_list("layer_id", "weekdays", "start_time", "end_time"):
        limits[layer_id].append(rotation.Restriction(frozenset(int(c) for c in days), r_start, r_end))
    by_schedule: dict[int, list[rotation.Layer]] = defaultdict(list)
    for pk, schedule_id, unit, length, start_date, handoff, end_at in layer_rows:
        by_schedule[schedule_id].append(
            rotation.Layer(
                pk, tuple(people[pk]), unit, length, start_date, handoff, end_at, tuple(limits[pk])
            )
        )
    overrides: dict[int, list[rotation.Override]] = defaultdict(list)
    for pk, schedule_id, user_id, o_start, o_end, left in (
        Override.objects.filter(schedule_id__in=ids, end__gt=start, start__lt=end)
        .exclude(pk__in=list(without_overrides))
        .annotate(left=_LEFT_AT)
        .order_by("created_at", "pk")
        .values_list("pk", "schedule_id", "user_id", "start", "end", "left")
    ):
        overrides[schedule_id].append(rotation.Override(pk, user_id, o_start, o_end))
        if left is not None:
            departed[schedule_id][user_id] = left
    return {
        pk: rotation.Schedule(tz, tuple(by_schedule[pk]), tuple(overrides[pk]), tuple(departed[pk].items()))
        for pk, tz in zones.items()
    }


def users_by_id(ids: Iterable[int]) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return get_user_model().objects.in_bulk(ids)


def final_shifts(
    schedule: Schedule, start: datetime, end: datetime, *, without_overrides: Iterable[int] = ()
) -> list[rotation.Shift]:
    """Who is on call when over [start, end); ``without_overrides``: as if those overrides did
    not exist (checking an override that is being edited against everything else)."""
    spec = specs([schedule.pk], start, end, without_overrides=without_overrides).get(schedule.pk)
    return rotation.final_shifts(spec, start, end) if spec else []


@dataclass
class OnCall:
    schedule_id: int
    user: object | None
    shift: rotation.Shift | None
    next_user: object | None = None
    next_shift: rotation.Shift | None = None


def on_call(
    schedules: Iterable[Schedule] | Iterable[int], at: datetime | None = None, *, with_next: bool = False
):
    """schedule id -> OnCall at ``at`` (default now). Six queries for any number of schedules."""
    at = at or timezone.now()
    horizon = NEXT_HORIZON if with_next else ON_CALL_CONTEXT
    defs = specs(schedules, at - ON_CALL_CONTEXT, at + horizon)
    found: dict[int, tuple] = {}
    for pk, spec in defs.items():
        current = rotation.on_call_at(spec, at, ON_CALL_CONTEXT)
        nxt = rotation.next_on_call(spec, at, horizon) if with_next else None
        found[pk] = (current, nxt)
    people = users_by_id([sh.user for pair in found.values() for sh in pair if sh is not None])
    return {
        pk: OnCall(
            pk,
            people.get(cur.user) if cur else None,
            cur,
            people.get(nxt.user) if nxt else None,
            nxt,
        )
        for pk, (cur, nxt) in found.items()
    }


def policy_for_service(service) -> EscalationPolicy | None:
    """The service's own policy, else its owner team's default."""
    link = ServicePolicy.objects.filter(service=service).select_related("policy").first()
    if link:
        return link.policy
    return EscalationPolicy.objects.filter(team_id=service.owner_team_id, is_team_default=True).first()


def ack_timeout_for_service(service) -> timedelta | None:
    minutes = (
        ServicePolicy.objects.filter(service=service).values_list("ack_timeout_minutes", flat=True).first()
    )
    return timedelta(minutes=minutes) if minutes else None


def snapshot(policy: EscalationPolicy) -> dict:
    """The policy as data, stored on a page so later edits never change a running escalation."""
    levels = policy.levels.order_by("position", "pk").prefetch_related("schedules", "users")
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "levels": [
            {
                "position": lv.position,
                "delay_minutes": lv.delay_minutes,
                "schedules": [s.pk for s in lv.schedules.all()],
                "include_next_on_call": lv.include_next_on_call,
                "users": [u.pk for u in lv.users.all()],
            }
            for lv in levels
        ],
    }


@dataclass
class LevelOnCall:
    position: int
    delay_minutes: int
    users: list = field(default_factory=list)  # people this level notifies, in order
    schedules: list = field(default_factory=list)  # [(schedule, OnCall)]


def resolve_levels(levels: list[dict], at: datetime) -> list[LevelOnCall]:
    """Snapshot levels -> who each one would notify at ``at``. Bounded queries for all levels."""
    schedule_ids = {pk for lv in levels for pk in lv["schedules"]}
    wants_next = any(lv["include_next_on_call"] for lv in levels)
    answers = on_call(schedule_ids, at, with_next=wants_next) if schedule_ids else {}
    schedules = Schedule.objects.in_bulk(schedule_ids) if schedule_ids else {}
    direct = users_by_id(pk for lv in levels for pk in lv["users"])
    out = []
    for lv in levels:
        result = LevelOnCall(lv["position"], lv["delay_minutes"])
        seen: set[int] = set()

        def add(user, seen=seen, result=result):
            if user is not None and user.is_active and user.pk not in seen:
                seen.add(user.pk)
                result.users.append(user)

        for pk in lv["schedules"]:
            answer = answers.get(pk)
            if answer is None:
                continue
            result.schedules.append((schedules.get(pk), answer))
            add(answer.user)
            if lv["include_next_on_call"]:
                add(answer.next_user)
        for pk in lv["users"]:
            add(direct.get(pk))
        out.append(result)
    return out


def on_call_for_service(
    service, at: datetime | None = None
) -> tuple[EscalationPolicy | None, list[LevelOnCall]]:
    policy = policy_for_service(service)
    if policy is None:
        return None, []
    return policy, resolve_levels(snapshot(policy)["levels"], at or timezone.now())


def on_call_for_team(team, at: datetime | None = None) -> dict[int, OnCall]:
    return on_call(Schedule.objects.filter(team=team).values_list("pk", flat=True), at)


def shifts_for_user(user, start: datetime, end: datetime) -> list[tuple[Schedule, rotation.Shift]]:
    """A person's final shifts over [start, end) across every schedule they appear in."""
    ids = set(
        Schedule.objects.filter(
            Q(layers__members__user=user) | Q(overrides__user=user, overrides__end__gt=start)
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    schedules = Schedule.objects.in_bulk(ids)
    out = []
    for pk, spec in specs(ids, start, end).items():
        out.extend(
            (schedules[pk], sh) for sh in rotation.final_shifts(spec, start, end) if sh.user == user.pk
        )
    out.sort(key=lambda pair: pair[1].start)
    return out


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return rotation.gaps(final_shifts(schedule, start, end), start, end)


def coverage_gaps(days: int = 14, at: datetime | None = None) -> dict[int, list[tuple[datetime, datetime]]]:
    """schedule id -> its gaps over the next ``days`` (for reminders and readiness)."""
    start = at or timezone.now()
    end = start + timedelta(days=days)
    out = {}
    for pk, spec in specs(Schedule.objects.values_list("pk", flat=True), start, end).items():
        holes = rotation.gaps(rotation.final_shifts(spec, start, end), start, end)
        if holes:
            out[pk] = holes
    return out


@dataclass
class FairnessRow:
    user: object
    hours: float
    night_hours: float
    weekend_hours: float
    shifts: int


def fairness(schedule: Schedule, start: datetime, end: datetime) -> list[FairnessRow]:
    loads = rotation.fairness(final_shifts(schedule, start, end), schedule.time_zone)
    people = users_by_id(loads)
    rows = [
        FairnessRow(
            people.get(pk), round(v.hours, 2), round(v.night_hours, 2), round(v.weekend_hours, 2), v.shifts
        )
        for pk, v in loads.items()
    ]
    rows.sort(key=lambda r: -r.hours)
    return rows


def visible_feeds(user, queryset=None):
    """iCal feeds a person may see: their own (the feed carries their shifts, or they created
    it). A feed URL is a credential, so managers and superusers see no one else's."""
    qs = CalendarFeed.objects.all() if queryset is None else queryset
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(Q(user=user) | Q(created_by=user))
