from django import template

from slos import dashboard

register = template.Library()


@register.inclusion_tag("slos/dashboard_panel.html", takes_context=True)
def slo_panel(context):
    """The dashboard's SLO panel (``slos.dashboard.panel``): worst budget first."""
    return {"slo": dashboard.panel(context.get("request"))}
