"""Support's own pages: the escalation form and "what do I tell the customer"."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from escalations import limits, permissions, selectors
from escalations.forms import EscalationForm
from escalations.models import SupportSettings


def support_only(view):
    """Signed in, and a Support member or staff; anyone else gets the 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not permissions.can_file(request.user):
            raise PermissionDenied("The support pages are for the Support team.")
        with timezone.override(request.user.time_zone or "UTC"):
            return view(request, *args, **kwargs)

    return wrapper


@support_only
@require_http_methods(["GET", "HEAD"])
def home(request):
    page = Paginator(selectors.own_escalations(request.user), 25).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    external = selectors.latest_external_updates(e.incident_id for e in rows)
    return render(
        request,
        "escalations/home.html",
        {
            "page": page,
            "rows": [(e, external.get(e.incident_id)) for e in rows],
            "open_incidents": selectors.open_incidents(),
            "now": timezone.now(),
        },
    )


@support_only
@require_http_methods(["GET", "HEAD", "POST"])
def escalate(request):
    status = 200
    if request.method == "POST":
        form = EscalationForm(request.POST)  # a successful filing never lists the open incidents
        if limits.over_limit(request):
            form.is_valid()  # keep what they typed, with its own errors, plus the pause
            form.add_error(None, limits.LIMIT_MESSAGE)
            status = 429
        elif form.is_valid():
            duplicate = form.duplicate_of(timezone.now())
            if duplicate is not None:
                form.duplicate = duplicate
                form.add_error(None, _duplicate_message(duplicate))
            else:
                escalation = form.save(reporter=request.user)
                if escalation is not None:
                    messages.success(request, _done_message(escalation))
                    return redirect("escalations:home")
    else:
        form = EscalationForm()
    incidents = form.open_incidents
    config = SupportSettings.load()
    slas = [
        (value, label.split(" - ")[0], config.sla_display(value))
        for value, label in form.fields["impact"].choices
    ]
    return render(
        request,
        "escalations/escalate.html",
        {
            "form": form,
            "open_incidents": incidents,
            "slas": slas,
            # for "this service has an open incident" before submitting (the page's script)
            "incidents_by_service": [
                {
                    "id": i.id,
                    "reference": i.reference,
                    "title": i.title,
                    "status": i.status_display,
                    "message": i.customer_message,
                    "services": list(i.service_ids),
                }
                for i in incidents
            ],
            "duplicate": getattr(form, "duplicate", None),
        },
        status=status,
    )


def _duplicate_message(duplicate) -> str:
    ago = timezone.now() - duplicate.created_at
    minutes = max(1, int(ago.total_seconds() // 60))
    where = f"on {duplicate.service.name}" if duplicate.service_id else "with no service"
    return (
        f"{duplicate.reference} was filed for {duplicate.customer} {where} {minutes} min ago "
        f"by {duplicate.reporter}. If this is the same problem, nothing more is needed; "
        "to file a second report anyway, tick the box below and send again."
    )


def _done_message(escalation) -> str:
    if escalation.incident_id and escalation.linked_by == escalation.LinkSource.SUPPORT:
        return (
            f"Thanks - your report is attached to {escalation.incident.reference}. "
            "Use its customer message below when you answer the customer."
        )
    if escalation.incident_id:
        return (
            f"{escalation.reference} filed. It completed a surge of reports for {escalation.service}: "
            f"{escalation.incident.reference} was opened and on-call is being paged for it."
        )
    due = timezone.localtime(escalation.ack_due_at).strftime("%a %d %b %H:%M %Z")
    if escalation.policy_id is None:
        return (
            f"{escalation.reference} filed. No on-call policy covers it yet, so nobody was paged: "
            "engineering sees it in their triage list. For an emergency, call the team directly."
        )
    team, people = selectors.routed_to(escalation)
    who = (
        f"{', '.join(str(p) for p in people)} {'is' if len(people) == 1 else 'are'} on call"
        if people
        else ("nobody is on call right now, so the rest of the team is told")
    )
    return (
        f"{escalation.reference} filed and sent to the {team} team: {who}. It is to be acknowledged by {due}."
    )
