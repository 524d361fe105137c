"""The design system's template vocabulary (styles in static/opsportal/ops.css, markup in
templates/ui/, documented in docs/design-system.md).

    {% load ops_ui %}
    {{ incident.declared_at|when }}            14:02 CET, 12 min ago  (viewer's zone)
    {{ due_at|when:"overdue" }}                the same, red
    {{ due_at|when_text }}                     plain text, for titles and attributes
    {% badge "SEV-1" "red" %}                  templates/ui/badge.html
    {% button "Post update" href=url kind="secondary" %}   templates/ui/button.html
    {% card "Open incidents" id="panel-open" %} ... {% endcard %}   templates/ui/card.html
    {% include "ui/table.html" with columns=... rows=... %}
"""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from opsportal import timeutil

register = template.Library()


def when_html(value, *, overdue: bool = False, now: datetime | None = None) -> str:
    """``<time>`` with the absolute time in the active (viewer's) zone and a relative hint."""
    if value in (None, ""):
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_html('<time class="ops-when" datetime="{}">{}</time>', value.isoformat(), _day(value))
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    hint = timeutil.relative_hint(value, now)
    return format_html(
        '<time class="ops-when{}" datetime="{}" title="{}">{}{}</time>',
        " ops-overdue" if overdue else "",
        value.astimezone(timeutil.UTC).isoformat(timespec="seconds"),
        timeutil.full_label(value, tz),
        timeutil.absolute_label(value, now, tz),
        format_html('<span class="ops-rel">, {}</span>', hint) if hint else "",
    )


def when_text(value, *, now: datetime | None = None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return _day(value)
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    hint = timeutil.relative_hint(value, now)
    label = timeutil.absolute_label(value, now, tz)
    return f"{label}, {hint}" if hint else label


def _day(value: date) -> str:
    today = timezone.localdate()
    return f"{value:%a} {value.day} {value:%b}" if value.year == today.year else f"{value.day} {value:%b %Y}"


@register.filter(name="when")
def when_filter(value, arg: str = ""):
    return when_html(value, overdue=arg == "overdue")


@register.filter(name="when_text")
def when_text_filter(value):
    return when_text(value)


@register.simple_tag
def badge(text, tone: str = "grey", title: str = ""):
    from opsportal.badges import TONES

    return render_to_string(
        "ui/badge.html", {"text": text, "tone": tone if tone in TONES else "grey", "title": title}
    )


@register.simple_tag
def button(label, href: str = "", kind: str = "", type: str = "submit", disabled: bool = False, **attrs):
    """A link when ``href`` is given, else a <button>; ``kind``: "", secondary, danger, small."""
    return render_to_string(
        "ui/button.html",
        {
            "label": label,
            "href": href,
            "kinds": [k for k in kind.split() if k in {"secondary", "danger", "small"}],
            "type": type,
            "disabled": disabled,
            "attrs": sorted((k.replace("_", "-"), v) for k, v in attrs.items()),
        },
    )


class CardNode(template.Node):
    def __init__(self, nodelist, title, options):
        self.nodelist, self.title, self.options = nodelist, title, options

    def render(self, context):
        options = {k: v.resolve(context) for k, v in self.options.items()}
        return render_to_string(
            "ui/card.html",
            {
                "title": self.title.resolve(context) if self.title else "",
                "body": self.nodelist.render(context),
                "id": options.get("id", ""),
                "tone": options.get("tone", ""),
                "aside": options.get("aside", ""),
                "level": options.get("level", 2),
            },
        )


@register.tag
def card(parser, token):
    """``{% card "Title" id="x" tone="red" aside="3 open" %} body {% endcard %}``"""
    bits = token.split_contents()[1:]
    title = None
    options = {}
    for bit in bits:
        if "=" in bit:
            key, value = bit.split("=", 1)
            options[key] = parser.compile_filter(value)
        elif title is None:
            title = parser.compile_filter(bit)
        else:
            raise template.TemplateSyntaxError("card takes one title and key=value options")
    nodelist = parser.parse(("endcard",))
    parser.delete_first_token()
    return CardNode(nodelist, title, options)


@register.simple_tag
def ops_table(columns, rows, id: str = "", empty: str = "Nothing here yet."):
    """``columns``: labels or dicts ``{"label", "secondary", "num"}``; ``rows``: lists of cells
    (already formatted: use ``when_html`` for times, ``badge`` for states)."""
    cols = [c if isinstance(c, dict) else {"label": c} for c in columns]
    css = [
        " ".join(k for k, on in (("ops-secondary", c.get("secondary")), ("num", c.get("num"))) if on)
        for c in cols
    ]
    return render_to_string(
        "ui/table.html",
        {
            "columns": [{"label": c["label"], "css": k} for c, k in zip(cols, css, strict=True)],
            "rows": [list(zip(css, row, strict=False)) for row in rows],
            "has_secondary": any(c.get("secondary") for c in cols),
            "id": id,
            "empty": empty,
        },
    )
