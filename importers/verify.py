"""Verification: the source's own rendered final schedule against Ops Portal's final shifts.

Both sides are clipped to the window and coalesced (adjacent stretches of the same person
become one shift: a source may cut a shift where a restriction or layer boundary falls, and
Ops Portal may cut it elsewhere, without anyone being on call differently). Then they are
compared shift by shift; agreement is the share of the window where both name the same
person (or both nobody). Every difference is listed with both sides.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth import get_user_model

from importers.org import RenderedShift
from oncall import selectors
from oncall.models import Schedule

Span = tuple[datetime, datetime, str]


def coalesce(spans: list[Span], start: datetime, end: datetime) -> list[Span]:
    out: list[Span] = []
    for s, e, who in sorted(spans):
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        if out and out[-1][2] == who and out[-1][1] >= s:
            out[-1] = (out[-1][0], max(out[-1][1], e), who)
        else:
            out.append((s, e, who))
    return out


def _at(spans: list[Span], t: datetime) -> str:
    for s, e, who in spans:
        if s <= t < e:
            return who
    return ""


def compare(source: list[Span], portal: list[Span], start: datetime, end: datetime) -> dict:
    source, portal = coalesce(source, start, end), coalesce(portal, start, end)
    cuts = sorted({start, end, *(x for s in source + portal for x in s[:2])})
    agree = total = 0.0
    for a, b in itertools.pairwise(cuts):
        length = (b - a).total_seconds()
        total += length
        if _at(source, a) == _at(portal, a):
            agree += length
    differences = []
    for i in range(max(len(source), len(portal))):
        left = source[i] if i < len(source) else None
        right = portal[i] if i < len(portal) else None
        if left != right:
            differences.append({"source": _fmt(left), "portal": _fmt(right)})
    return {
        "agreement": round(100 * agree / total, 2) if total else 100.0,
        "source_shifts": len(source),
        "portal_shifts": len(portal),
        "differences": differences[:50],
        "difference_count": len(differences),
    }


def _fmt(span: Span | None) -> str:
    if span is None:
        return "(none)"
    return f"{span[0]:%Y-%m-%d %H:%M}Z - {span[1]:%Y-%m-%d %H:%M}Z {span[2] or '(nobody)'}"


def portal_spans(schedule: Schedule, start: datetime, end: datetime) -> list[Span]:
    shifts = selectors.final_shifts(schedule, start, end)
    emails = dict(get_user_model().objects.filter(pk__in={s.user for s in shifts}).values_list("pk", "email"))
    return [(s.start, s.end, (emails.get(s.user) or "").lower()) for s in shifts]


def source_spans(rendered: list[RenderedShift]) -> list[Span]:
    return [(r.start, r.end, r.email.lower()) for r in rendered]
