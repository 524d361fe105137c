"""Error-budget and burn-rate arithmetic: pure functions, no ORM (checked by the hypothesis
oracle in ``tests/slos/test_oracle.py``).

Definitions (``docs/slos.md``):

- objective ``O`` in percent; allowed bad fraction ``a = 1 - O/100``.
- over a window with ``good``/``total`` events: ``bad = total - good``;
  SLI = ``good / total``; budget consumed = ``bad / (a * total)``; remaining = ``1 - consumed``
  (negative when overspent). No events: SLI, consumed and remaining are ``None`` ("no data")
  and the budget is untouched. ``O = 100``: ``a = 0``, so any bad event exhausts the budget
  (consumed = infinity, remaining reported as ``0.0``).
- burn rate over a window = (bad / total) / a: 1x spends exactly the budget over the SLO
  window, 14.4x spends 2 % of a 30-day budget in one hour. ``None`` without events;
  ``math.inf`` when ``a = 0`` and there is a bad event.

Arithmetic is exact (``fractions.Fraction`` on the decimal objective) so an outage of exactly
the budget reads 100 % consumed, not 99.99999999999997 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

MINUTE = timedelta(minutes=1)


def allowed_fraction(objective: Decimal | float | str) -> Fraction:
    return 1 - Fraction(Decimal(str(objective))) / 100


@dataclass(frozen=True)
class Budget:
    good: int
    total: int
    objective: Decimal

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def has_data(self) -> bool:
        return self.total > 0

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def consumed(self) -> float | None:
        """Fraction of the budget spent (1.0 = exactly all of it); None without events."""
        if not self.total:
            return None
        allowed = allowed_fraction(self.objective) * self.total
        if allowed == 0:
            return math.inf if self.bad else 0.0
        return float(Fraction(self.bad) / allowed)

    @property
    def remaining(self) -> float | None:
        """Fraction left: 1 - consumed, negative when overspent; None without events. With a
        100 % objective, any bad event leaves ``0.0`` (exhausted), none leaves ``1.0``."""
        consumed = self.consumed
        if consumed is None:
            return None
        if math.isinf(consumed):
            return 0.0
        return 1.0 - consumed

    @property
    def exhausted(self) -> bool:
        if not self.total:
            return False
        allowed = allowed_fraction(self.objective) * self.total
        return self.bad >= allowed and (self.bad > 0)


def burn_rate(good: int, total: int, objective) -> float | None:
    if not total:
        return None
    allowed = allowed_fraction(objective)
    bad = total - good
    if allowed == 0:
        return math.inf if bad else 0.0
    return float(Fraction(bad, total) / allowed)


def burns_faster(good: int, total: int, objective, factor: float) -> bool:
    """burn rate > factor, exactly (no data never burns)."""
    if not total:
        return False
    bad = total - good
    allowed = allowed_fraction(objective)
    if allowed == 0:
        return bad > 0
    return Fraction(bad, total) > allowed * Fraction(str(factor))


@dataclass(frozen=True)
class Rule:
    severity: str
    factor: float
    long_minutes: int
    short_minutes: int

    @classmethod
    def from_dict(cls, data: dict) -> Rule:
        return cls(
            str(data["severity"]),
            float(data["factor"]),
            int(data["long_minutes"]),
            int(data["short_minutes"]),
        )


def validate_rules(rules) -> list[Rule]:
    """Parse a burn_rules value; raises ValueError with a readable message."""
    if not isinstance(rules, list) or not rules:
        raise ValueError("Give at least one burn-rate rule (a list of objects).")
    out = []
    for i, raw in enumerate(rules, start=1):
        if not isinstance(raw, dict) or set(raw) != {"severity", "factor", "long_minutes", "short_minutes"}:
            raise ValueError(f"Rule {i}: needs exactly severity, factor, long_minutes and short_minutes.")
        if raw["severity"] not in ("page", "ticket"):
            raise ValueError(f"Rule {i}: severity is page or ticket.")
        for key in ("factor", "long_minutes", "short_minutes"):
            if (
                isinstance(raw[key], bool)
                or not isinstance(raw[key], int | float)
                or not math.isfinite(raw[key])
            ):
                raise ValueError(f"Rule {i}: {key} must be a number.")
        if not (0 < raw["factor"] <= 10_000):
            raise ValueError(f"Rule {i}: factor must be above 0 (and at most 10000).")
        for key in ("long_minutes", "short_minutes"):
            if int(raw[key]) != raw[key] or not (1 <= raw[key] <= 31 * 24 * 60):
                raise ValueError(f"Rule {i}: {key} must be a whole number of minutes from 1 to 44640.")
        if raw["short_minutes"] >= raw["long_minutes"]:
            raise ValueError(f"Rule {i}: the short window must be shorter than the long window.")
        out.append(Rule.from_dict(raw))
    return out


@dataclass(frozen=True)
class Firing:
    rule: Rule
    long_rate: float | None
    short_rate: float | None


def firing_rules(rules: Sequence[Rule], sums: dict[int, tuple[int, int]], objective) -> list[Firing]:
    """Rules whose long and short windows both burn faster than their factor. ``sums``:
    window length in minutes -> (good, total) over the minutes ending now."""
    out = []
    for rule in rules:
        lg, lt = sums.get(rule.long_minutes, (0, 0))
        sg, st = sums.get(rule.short_minutes, (0, 0))
        if burns_faster(lg, lt, objective, rule.factor) and burns_faster(sg, st, objective, rule.factor):
            out.append(Firing(rule, burn_rate(lg, lt, objective), burn_rate(sg, st, objective)))
    return out


def burn_start(
    minutes: dict[datetime, tuple[int, int]], *, now: datetime, rule: Rule, objective
) -> datetime | None:
    """When the burn that fires ``rule`` at ``now`` began: the most recent minute inside the
    short window that burns faster than the factor, walked back (over minutes without
    events) to the first minute of that unbroken hot run, at most the long window back.
    ``minutes``: minute start -> (good, total). None when no minute is hot (cannot happen
    when the rule fires)."""
    end = floor_minute(now)
    short_start = end - rule.short_minutes * MINUTE
    long_start = end - rule.long_minutes * MINUTE

    def hot(m):
        g, t = minutes.get(m, (0, 0))
        return burns_faster(g, t, objective, rule.factor)

    m = end - MINUTE
    while m >= short_start and not hot(m):
        m -= MINUTE
    if m < short_start:
        return None
    start = m
    m -= MINUTE
    while m >= long_start:
        g, t = minutes.get(m, (0, 0))
        if t and not burns_faster(g, t, objective, rule.factor):
            break
        if t:
            start = m
        m -= MINUTE
    return start


def floor_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def floor_hour(dt: datetime) -> datetime:
    return dt.replace(minute=0, second=0, microsecond=0)


def window_start(window: str, now: datetime) -> datetime:
    """Start of the SLO window ending at ``now`` (minutes ending at floor(now))."""
    end = floor_minute(now)
    if window == "month":
        return end.replace(day=1, hour=0, minute=0)
    return end - timedelta(days=int(window.rstrip("d")))


def split_range(
    start: datetime, end: datetime
) -> tuple[list[tuple[datetime, datetime]], tuple[datetime, datetime] | None]:
    """[start, end) (whole minutes) as minute pieces and one whole-hour piece:
    ([minute ranges], hour range or None)."""
    h0 = floor_hour(start)
    if h0 < start:
        h0 += timedelta(hours=1)
    h1 = floor_hour(end)
    if h0 >= h1:
        return [(start, end)], None
    pieces = []
    if start < h0:
        pieces.append((start, h0))
    if h1 < end:
        pieces.append((h1, end))
    return pieces, (h0, h1)
