"""Server-rendered SVG charts for the dashboard: no JavaScript, no CDN, readable without
colour (every bar and point has a <title> tooltip with its exact value)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 44
SEVERITY_COLOURS = {"SEV-1": "#b42318", "SEV-2": "#dc6803", "SEV-3": "#ca8504", "SEV-4": "#667085"}
SOURCE_COLOURS = {"monitoring": "#1570ef", "slo": "#7a5af8", "support": "#d92d20", "manual": "#475467"}


def duration_label(seconds: float | None) -> str:
    """Compact human duration: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _frame(
    title: str, y_label: str, x_labels: Sequence[str], y_max: float, fmt: Callable[[float], str]
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="ops-chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600" fill="currentColor">{escape(title)}</text>',
    ]
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#d0d5dd" stroke-width="0.5"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="currentColor">'
            f"{escape(fmt(value))}</text>"
        )
    out.append(
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="10" text-anchor="middle" fill="currentColor" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    slot = plot_w / max(len(x_labels), 1)
    for i, label in enumerate(x_labels):
        if len(x_labels) > 8 and i % 2:
            continue
        x = LEFT + slot * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="middle" '
            f'fill="currentColor">{escape(label)}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle" '
        f'fill="currentColor">Week starting</text>'
    )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#667085"/>'
    )
    return out


def _legend(items: Sequence[tuple[str, str]]) -> list[str]:
    out, x = [], WIDTH - RIGHT
    for label, colour in reversed(items):
        x -= 8 + 6 * len(label) + 18
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="17" font-size="10" fill="currentColor">{escape(label)}</text>')
    return out


def stacked_bars(
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[int]],
    colours: dict[str, str],
    *,
    unit: str = "incidents",
    point: str = "Week of {label}",
) -> SafeString:
    """Counts per week stacked by series (e.g. incidents per week by severity); ``unit`` and
    ``point`` name the counted things and a bar (deploys per weekday: "deploys", "{label}")."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(x_labels))]
    # whole-number gridlines: four steps of a "nice" integer
    y_max = 4 * max(1, math.ceil(_nice_max(max(totals, default=0) / 4)))
    out = _frame(title, unit.capitalize(), x_labels, y_max, lambda v: f"{v:g}")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(x_labels), 1)
    bar_w = slot * 0.7
    for i, label in enumerate(x_labels):
        base = 0
        x = LEFT + slot * i + (slot - bar_w) / 2
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot_h * value / y_max
            y = TOP + plot_h - plot_h * (base + value) / y_max
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colours.get(name, "#98a2b3")}">'
                f"<title>{escape(f'{point.format(label=label)}: {value} {name}')}</title></rect>"
            )
            base += value
        out.append(
            f'<rect x="{x:.1f}" y="{TOP}" width="{bar_w:.1f}" height="{plot_h}" fill="transparent">'
            f"<title>{escape(f'{point.format(label=label)}: {totals[i]} {unit}')}</title></rect>"
        )
    out += _legend([(name, colours.get(name, "#98a2b3")) for name in series])
    out.append("</svg>")
    return mark_safe("".join(out))  # every dynamic value above is escaped


def duration_lines(
    title: str, x_labels: Sequence[str], series: dict[str, Sequence[float | None]], colours: dict[str, str]
) -> SafeString:
    """Durations (seconds) per week, one line per series; weeks without data leave a gap."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = max(values, default=0.0)
    unit = 86400 if top >= 86400 else 3600 if top >= 3600 else 60
    y_max = _nice_max(top / unit) * unit
    out = _frame(title, "Median duration", x_labels, y_max, duration_label)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(x_labels), 1)
    dots: list[str] = []
    for name, points in series.items():
        colour = colours.get(name, "#344054")
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(points):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h - plot_h * min(value, y_max) / y_max
            segment.append(f"{x:.1f},{y:.1f}")
            dots.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(f'{name}, week of {x_labels[i]}: {duration_label(value)}')}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                out.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
    out += dots
    out += _legend([(name, colours.get(name, "#344054")) for name in series])
    out.append("</svg>")
    return mark_safe("".join(out))  # every dynamic value above is escaped
