from django import template

from metrics import delivery_panel as panel

register = template.Library()


@register.inclusion_tag("admin/metrics/delivery_panel.html", takes_context=True)
def delivery_panel(context):
    """The "Delivery" panel (metrics.delivery_panel.build) for the dashboard."""
    return panel.build(context["request"])
