"""Small HTML badges for admin lists (styles in static/opsportal/ops.css, markup as templates/ui/badge.html)."""

from django.utils.html import format_html

TONES = {"red", "orange", "yellow", "green", "blue", "grey", "purple"}


def badge(text: str, tone: str = "grey", *, title: str = "") -> str:
    if tone not in TONES:
        tone = "grey"
    return format_html('<span class="op-badge op-badge-{}" title="{}">{}</span>', tone, title or text, text)
