"""Reminder rules: each app declares its own in ``<app>/reminders.py`` as ``RULES = [...]``.

A rule answers one question cheaply - "what is due now?" - with one or a few indexed queries
that return only due objects, and yields a :class:`Reminder` per due point. The sweep
(``reminders.services.sweep``) sends each (rule, object, due point, stage, recipient) exactly
once, whatever the number of sweeps, retries or overlaps.

Rules choose their due points so that a missed sweep catches up with the latest due point
only (see :func:`latest_due_point`): after an hour without beat, "update overdue every
30 minutes" sends one reminder, not sixty.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsportal.discovery import app_modules


@dataclass
class Reminder:
    object_key: str  # what is chased, e.g. "incidents.incident:42" or "digest:user:7"
    due_point: datetime  # the deadline instant this reminder is for (aware); part of its identity
    recipients: Sequence[Any]  # User objects or e-mail strings
    template: str  # notifications template, e.g. "reminders/example"
    context: dict
    stage: int = 1  # 1 = first reminder; 2+ = escalation because the earlier stage was ignored
    kind: str = "reminder"  # notifications kind: reminder | digest | page
    related: Any = None
    # Extra work done exactly once with the reminder (e.g. start paging), inside its transaction.
    action: Callable[[], None] | None = None

    @property
    def identity(self) -> str:
        return f"{self.object_key}@{self.due_point.isoformat()}#{self.stage}"


@dataclass(frozen=True)
class EffectiveConfig:
    enabled: bool
    interval: timedelta | None
    escalate_after: timedelta | None


@dataclass(eq=False)
class Rule(ABC):
    """Subclass and implement :meth:`due`; instances go in ``<app>/reminders.py`` RULES."""

    key: str = ""
    title: str = ""
    description: str = ""
    default_interval: timedelta | None = None  # repeat cadence; editable in the admin
    default_escalate_after: timedelta | None = None  # second stage delay; editable in the admin
    paging: bool = False  # paging reminders ignore quiet hours
    extra: dict = field(default_factory=dict)

    @abstractmethod
    def due(self, *, now: datetime, config: EffectiveConfig) -> Iterable[Reminder]:
        """Reminders due at ``now``: one or a few indexed queries returning only due objects."""


def latest_due_point(first_due: datetime, interval: timedelta | None, now: datetime) -> datetime | None:
    """The most recent due point at or before ``now`` in the series first_due + k*interval."""
    if now < first_due:
        return None
    if not interval:
        return first_due
    steps = (now - first_due) // interval
    return first_due + steps * interval


_extra_rules: list[Rule] = []


def register(rule: Rule) -> Rule:
    """Register a rule outside an app's RULES list (tests)."""
    _extra_rules.append(rule)
    return rule


def unregister(rule: Rule) -> None:
    _extra_rules.remove(rule)


def rules() -> list[Rule]:
    found: list[Rule] = []
    for _config, module in app_modules("reminders"):
        found.extend(getattr(module, "RULES", []))
    found.extend(_extra_rules)
    keys = [r.key for r in found]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ValueError(f"reminder rule keys must be unique: {sorted(dupes)}")
    return found
