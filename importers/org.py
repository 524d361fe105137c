"""The source organisation in one neutral shape: every source reader (PagerDuty, Opsgenie,
Grafana OnCall) turns its API objects into these, and the planner maps them onto Ops Portal.

A reader that cannot express something fills ``unmappable`` (the reason) instead of guessing:
the plan lists the object as "cannot map" with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time


@dataclass
class User:
    id: str
    email: str
    name: str = ""
    time_zone: str = ""


@dataclass
class Team:
    id: str
    name: str
    member_ids: list[str] = field(default_factory=list)
    description: str = ""


@dataclass
class Restriction:
    """A weekly window in the schedule's zone, Ops Portal's shape: on ``weekdays`` (0 = Monday)
    from ``start`` to ``end`` (end <= start crosses midnight, end == start is 24 hours)."""

    weekdays: list[int]
    start: time
    end: time


@dataclass
class Layer:
    name: str
    start: datetime  # the first handoff, as local wall time in the schedule's zone (naive)
    unit: str  # hours | days | weeks
    length: int
    user_ids: list[str]
    restrictions: list[Restriction] = field(default_factory=list)
    end: datetime | None = None  # aware
    notes: list[str] = field(default_factory=list)  # mapping remarks shown in the plan


@dataclass
class Override:
    user_id: str
    start: datetime
    end: datetime


@dataclass
class Schedule:
    id: str
    name: str
    time_zone: str
    team_id: str | None
    layers: list[Layer] = field(default_factory=list)  # lowest priority first
    overrides: list[Override] = field(default_factory=list)
    unmappable: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    kind: str  # user | schedule
    id: str


@dataclass
class Rule:
    delay_minutes: int
    targets: list[Target]


@dataclass
class Policy:
    id: str
    name: str
    team_id: str | None
    rules: list[Rule]
    repeat: int = 0
    unmappable: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Service:
    id: str
    name: str
    team_id: str | None
    policy_id: str | None
    description: str = ""


@dataclass
class Integration:
    id: str
    name: str
    kind: str
    service_id: str | None = None
    team_id: str | None = None


@dataclass
class Org:
    source: str
    users: list[User] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    integrations: list[Integration] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # malformed objects skipped while reading


@dataclass(frozen=True)
class RenderedShift:
    """One entry of the source's own final schedule: who (e-mail) from when to when (aware)."""

    start: datetime
    end: datetime
    email: str
