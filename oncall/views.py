"""Pages outside the admin: iCal feeds (token, no login) and one-click acknowledge links."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from oncall import ical, services
from oncall.models import CalendarFeed, Page
from opsportal.errors import ServiceError


def feed(request, token: str):
    """Read-only iCal of a schedule or a person; an unknown or revoked token is a 404."""
    found = (
        CalendarFeed.objects.select_related("schedule__team", "user")
        .filter(token=token, revoked_at__isnull=True)
        .first()
    )
    if found is None:
        raise Http404("No such calendar feed.")
    response = HttpResponse(ical.render(found), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
def acknowledge(request, token: str):
    """GET shows the page and a confirm button (link scanners only GET, so they never
    acknowledge); POST acknowledges as the person the link was sent to. No session needed."""
    context = {"token": token}
    try:
        page_id, user_id = services.read_ack_token(token)
    except ServiceError as exc:
        return render(request, "oncall/acknowledge.html", {**context, "error": exc.message}, status=400)
    page = Page.objects.select_related("service", "acknowledged_by").filter(pk=page_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if page is None or user is None:
        return render(
            request,
            "oncall/acknowledge.html",
            {**context, "error": "This page no longer exists."},
            status=404,
        )
    context.update(page=page, person=user)
    if request.method == "POST":
        try:
            page = services.acknowledge_page(page=page, user=user, via="link")
        except ServiceError as exc:
            context["error"] = exc.message
            return render(request, "oncall/acknowledge.html", context, status=exc.status_code)
        messages.success(request, f"Acknowledged. Escalation stopped; {user} is handling it.")
        context.update(page=page, done=True)
    return render(request, "oncall/acknowledge.html", context)
