"""The "Runbooks" panel on the catalog service admin page.

The catalog is a lower layer and never imports runbooks: the service change form template
(``templates/admin/catalog/service/change_form.html``) loads this tag library instead.
"""

from django import template
from django.urls import reverse
from django.utils import timezone

from runbooks import permissions, selectors
from runbooks.badges import freshness_badge

register = template.Library()


@register.inclusion_tag("admin/runbooks/service_panel.html", takes_context=True)
def service_runbooks_panel(context, service):
    if service is None or not getattr(service, "pk", None):
        return {"show": False}
    now = timezone.now()
    runbooks = list(selectors.runbooks_for_services([service.pk], limit=50))
    request = context.get("request")
    add_url = None
    if request is not None and permissions.can_create(request.user):
        add_url = f"{reverse('admin:runbooks_runbook_add')}?services={service.pk}&owner_team={service.owner_team_id}"
    return {
        "show": True,
        "service": service,
        "rows": [(rb, freshness_badge(rb, now)) for rb in runbooks],
        "add_url": add_url,
        "search_url": f"{reverse('runbooks:index')}?service={service.slug}",
    }
