from django import template
from django.utils import timezone

from slos import dashboard, permissions, selectors

register = template.Library()


@register.inclusion_tag("slos/dashboard_panel.html", takes_context=True)
def slo_panel(context):
    """The dashboard's SLO panel (``slos.dashboard.panel``): worst budget first."""
    return {"slo": dashboard.panel(context.get("request"))}


@register.inclusion_tag("slos/service_slos.html", takes_context=True)
def service_slos(context, service):
    """The service page's SLOs: objective, SLI, budget left, burn (4 queries)."""
    request = context.get("request")
    if service is None or not permissions.can_view(getattr(request, "user", None)):
        return {"visible": False}
    statuses = selectors.for_services([service.pk], now=timezone.now()).get(service.pk, [])
    return {"visible": True, "statuses": statuses, "service": service}
