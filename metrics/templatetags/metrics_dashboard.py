from django import template

from metrics import charts, dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def ops_dashboard(context):
    """The dashboard context for the admin index (metrics.dashboard.build)."""
    return dashboard.build(context["request"])


@register.filter
def duration(seconds):
    return charts.duration_label(seconds)


@register.filter
def age(delta):
    seconds = delta.total_seconds() if delta is not None else None
    return charts.duration_label(seconds)
