"""The incident room: the incident's admin change page, rebuilt around running the incident.

Header (state, people, milestones, the next-update countdown), an action bar, the update
composer at the top, the timeline as a filterable feed with notes in place, and a side column
of panels (built-in ones here, higher layers' through :mod:`incidents.room`). The full field
form stays on the same page under the "Edit details" tab, so the admin's own change form (and
everything that relies on it: history, the write audit, the role matrix) is unchanged.

Every button posts to a small admin view that calls one ``incidents.services`` function; the
declare form (the add page) is prefilled from ``?from=<kind>:<id>`` through the declare sources
registered in :mod:`incidents.room`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from incidents import permissions, room, selectors, services
from incidents.forms import (
    AssignRoleForm,
    ChangeSeverityForm,
    DeclareIncidentForm,
    LinkRunbookForm,
    eligible_people,
)
from incidents.models import Incident, Severity, TimelineEvent
from opsportal.errors import ServiceError
from opsportal.timeutil import human_delta

Kind = TimelineEvent.Kind
Status = Incident.Status

# The feed's filters: each timeline kind belongs to one of them.
FEED_FILTERS = (
    ("updates", "Updates"),
    ("state", "State changes"),
    ("pages", "Pages"),
    ("escalations", "Escalations"),
    ("notes", "Notes"),
)
FEED_GROUP = {
    Kind.STATUS_UPDATE: "updates",
    Kind.CUSTOMER_MESSAGE: "updates",
    Kind.PAGE: "pages",
    Kind.PROBE_ALERT: "pages",
    Kind.SUPPORT_REPORT: "escalations",
    Kind.NOTE: "notes",
}

# Update templates per status: a starting point the composer fills in (edited before posting).
UPDATE_TEMPLATES = {
    Status.INVESTIGATING: [
        (
            "Investigating",
            "We are investigating reports of {impact}. We will post an update within {cadence}.",
        ),
        ("Escalated", "We have engaged the {team} team and are investigating {impact}."),
    ],
    Status.IDENTIFIED: [
        ("Cause identified", "We have identified the cause of {impact} and are working on a fix."),
    ],
    Status.MONITORING: [
        ("Fix deployed", "A fix has been deployed and we are monitoring the results."),
    ],
    Status.RESOLVED: [
        ("Resolved", "This incident has been resolved. {impact} is back to normal."),
    ],
}

ROLE_LABELS = (("commander", "Commander"), ("comms_lead", "Comms lead"), ("scribe", "Scribe"))


def _when(dt) -> str:
    if dt is None:
        return "-"
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M %Z")


def milestones(incident: Incident, now) -> list[dict]:
    """Detected, acknowledged, mitigated, resolved, closed: when, and how long after detection."""
    rows = []
    for label, at in (
        ("Impact began", incident.started_at),
        ("Detected", incident.detected_at),
        ("Acknowledged", incident.acknowledged_at),
        ("Mitigated", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ):
        after = None
        if at is not None and label not in ("Impact began", "Detected"):
            after = human_delta(at - incident.detected_at)
        rows.append({"label": label, "at": at, "after": after})
    return rows


def next_update(incident: Incident, now) -> dict | None:
    """The countdown: ``{"due", "overdue", "text"}`` or None when no update is due."""
    due = incident.next_update_due_at()
    if due is None:
        return None
    if due < now:
        return {"due": due, "overdue": True, "text": f"update overdue by {human_delta(now - due)}"}
    return {"due": due, "overdue": False, "text": f"next update due in {human_delta(due - now)}"}


def feed(incident: Incident) -> list[dict]:
    """The timeline newest first, each event tagged with its filter group."""
    events = list(selectors.timeline(incident))
    events.reverse()
    return [{"event": e, "group": FEED_GROUP.get(e.kind, "state")} for e in events]


def update_templates(incident: Incident) -> list[dict]:
    team = incident.owning_team.name if incident.owning_team_id else "owning"
    impact = (incident.customer_impact or "").strip().rstrip(".") or "degraded service"
    cadence = incident.severity.cadence_display if incident.severity.update_cadence_minutes else "the hour"
    out = []
    for label, text in UPDATE_TEMPLATES.get(incident.status, []):
        out.append({"label": label, "text": text.format(impact=impact, team=team, cadence=cadence)})
    return out


# --- built-in side panels -------------------------------------------------------------------
def pages_panel(incident: Incident, request) -> dict | None:
    from oncall.models import Page

    if not request.user.has_perm("oncall.view_page"):
        return None
    ct = ContentType.objects.get_for_model(Incident)
    pages = list(
        Page.objects.filter(subject_type=ct, subject_id=str(incident.pk))
        .select_related("policy", "acknowledged_by")
        .order_by("-created_at")[:10]
    )
    return {"pages": pages}


def runbooks_panel(incident: Incident, request) -> dict | None:
    from runbooks.selectors import runbooks_for_services

    linked = list(incident.runbooks.all().order_by("title"))
    suggested = [
        r
        for r in runbooks_for_services([s.pk for s in incident.services.all()], limit=10)
        if r.pk not in {x.pk for x in linked}
    ]
    can_act = permissions.can_respond(request.user) and request.user.has_perm("incidents.change_incident")
    return {"linked": linked, "suggested": suggested, "can_act": can_act and incident.is_open}


def register_builtin_panels() -> None:
    room.register_room_panel("pages", "admin/incidents/room/pages_panel.html", pages_panel, order=30)
    room.register_room_panel("runbooks", "admin/incidents/room/runbooks_panel.html", runbooks_panel, order=40)


def _page_prefill(pk: int, user) -> room.Prefill | None:
    from oncall.models import Page

    if not user.has_perm("oncall.view_page"):
        return None
    page = Page.objects.select_related("service").filter(pk=pk).first()
    if page is None:
        return None
    return room.Prefill(
        source=f"page #{page.pk}: {page.title}",
        title=page.title[:200],
        summary=page.summary,
        services=[page.service_id] if page.service_id else [],
        detection_source=Incident.DetectionSource.MONITORING,
    )


def register_builtin_sources() -> None:
    room.register_declare_source("page", _page_prefill)


# --- the admin mixin ------------------------------------------------------------------------
class IncidentRoomMixin:
    """Mixed into ``IncidentAdmin``: the declare form's prefill and landing, the room's
    context and its one-click views. Writes only through ``incidents.services``."""

    add_form_template = "admin/incidents/incident/declare.html"
    change_form_template = "admin/incidents/incident/room.html"

    # --- declare ----------------------------------------------------------------------------
    def _declare_source(self, request):
        parsed = room.parse_from(request.GET.get("from") or request.POST.get("declared_from"))
        if parsed is None:
            return None, None
        source, pk = parsed
        return source, pk

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "from" not in request.GET:
            return initial
        source, pk = self._declare_source(request)
        prefill = source.prefill(pk, request.user) if source else None
        if prefill is None:
            return initial
        initial.update(
            title=prefill.title,
            summary=prefill.summary,
            customer_impact=prefill.customer_impact,
            declared_from=f"{source.kind}:{pk}",
        )
        if prefill.services:
            initial["services"] = prefill.services
        if prefill.detection_source:
            initial["detection_source"] = prefill.detection_source
        if prefill.severity:
            severity = Severity.objects.filter(level=prefill.severity).first()
            if severity is not None:
                initial["severity"] = severity.pk
        return initial

    def add_view(self, request, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if request.method == "GET" and "from" in request.GET:
            source, pk = self._declare_source(request)
            prefill = source.prefill(pk, request.user) if source else None
            if prefill is None:
                self.message_user(
                    request,
                    "Nothing to prefill from: that page, alert group or escalation does not exist "
                    "or you cannot see it. Declare from scratch below.",
                    messages.WARNING,
                )
            else:
                extra["declare_source"] = prefill.source
        extra["title"] = "Declare an incident"
        return super().add_view(request, form_url, extra)

    def create_object(self, request, form, formsets):
        data = form.cleaned_data
        incident = services.declare_incident(
            title=data["title"],
            severity=data["severity"],
            services=list(data["services"]),
            actor=request.user,
            summary=data.get("summary", ""),
            customer_impact=data.get("customer_impact", ""),
            detection_source=data.get("detection_source") or Incident.DetectionSource.MANUAL,
            drill=data.get("drill", False),
            commander=request.user if data.get("i_am_commander") else None,
        )
        parsed = room.parse_from(data.get("declared_from"))
        if parsed is not None:
            source, pk = parsed
            if source.link is not None:
                source.link(pk, incident, request.user)
        return incident

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            f"{obj.reference} declared ({obj.severity.label}). This is its room: post the first "
            "update from the composer below.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[obj.pk]))

    def response_change(self, request, obj):
        """Saving "Edit details" goes back to the room (not the list)."""
        response = super().response_change(request, obj)
        if "_save" in request.POST and IS_POPUP_VAR not in request.POST:
            return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[obj.pk]))
        return response

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            "title", "severity", "services", "customer_impact", "summary",
                            "i_am_commander", "drill", "detection_source", "declared_from",
                        ]
                    },
                )
            ]  # fmt: skip
        return super().get_fieldsets(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DeclareIncidentForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    # --- the room ---------------------------------------------------------------------------
    def room_context(self, request, incident: Incident, can_act: bool) -> dict:
        now = timezone.now()
        people = list(eligible_people()) if can_act else []
        severities = list(Severity.objects.order_by("level"))
        refusals = services.close_refusals(incident) if incident.status == Status.RESOLVED else []
        return {
            "room": {
                "now": now,
                "age": human_delta(now - incident.detected_at),
                "milestones": milestones(incident, now),
                "next_update": next_update(incident, now),
                "roles": [
                    {"name": name, "label": label, "user": getattr(incident, name)}
                    for name, label in ROLE_LABELS
                ],
                "people": people,
                "severities": severities,
                "feed": feed(incident),
                "filters": FEED_FILTERS,
                "templates": update_templates(incident),
                "panels": room.render_panels(incident, request),
                "refusals": refusals,
                "remedies": room.close_remedies(incident, request.user)
                if incident.status != "investigating"
                else [],
                "page_url": self._page_url(request, incident),
                "details_open": request.method == "POST" or request.GET.get("tab") == "details",
            },
            "severity_form": ChangeSeverityForm(),
        }

    def _page_url(self, request, incident: Incident) -> str | None:
        if not request.user.has_perm("oncall.add_page"):
            return None
        from urllib.parse import urlencode

        query = urlencode(
            {
                "title": f"{incident.reference}: {incident.title}"[:200],
                "summary": f"Help needed on {incident.reference} ({incident.severity.label}).",
                "service": incident.primary_service_id or "",
            }
        )
        return f"{reverse('admin:oncall_page_add')}?{query}"

    def room_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/severity/", view(self.severity_view), name="incidents_incident_severity"),
            path("<int:pk>/role/", view(self.role_view), name="incidents_incident_role"),
            path("<int:pk>/runbook/", view(self.runbook_view), name="incidents_incident_runbook"),
        ]

    def severity_view(self, request, pk):
        incident = self._acting_on(request, pk)
        form = ChangeSeverityForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Pick a severity and say why it changes.", messages.ERROR)
            return self._back(incident)
        new = form.cleaned_data["severity"]
        self.run_service(
            request,
            services.change_severity,
            incident=incident,
            actor=request.user,
            severity=new,
            reason=form.cleaned_data["reason"],
            success=f"{incident.reference} is now {new.label}.",
        )
        return self._back(incident)

    def role_view(self, request, pk):
        incident = self._acting_on(request, pk)
        form = AssignRoleForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Pick a role and a responder.", messages.ERROR)
            return self._back(incident)
        role, user = form.cleaned_data["role"], form.cleaned_data["user"]
        self.run_service(
            request,
            services.assign_role,
            incident=incident,
            actor=request.user,
            role=role,
            user=user,
            success=f"{dict(ROLE_LABELS)[role]}: {user or 'nobody'}.",
        )
        return self._back(incident)

    def runbook_view(self, request, pk):
        from runbooks.models import Runbook

        incident = self._acting_on(request, pk)
        form = LinkRunbookForm(request.POST)
        runbook = Runbook.objects.filter(pk=form.cleaned_data["runbook"]).first() if form.is_valid() else None
        if runbook is None:
            self.message_user(request, "Pick a runbook to link.", messages.ERROR)
            return self._back(incident)
        self.run_service(
            request,
            services.link_runbook,
            incident=incident,
            runbook=runbook,
            actor=request.user,
            success=f"Runbook “{runbook.title}” linked to {incident.reference}.",
        )
        return self._back(incident)

    def close_refused(self, request, incident: Incident, error: ServiceError) -> None:
        """A refused close, with a button per remedy (e.g. "Start postmortem")."""
        token = get_token(request)
        buttons = []
        for remedy in room.close_remedies(incident, request.user):
            if remedy.method == "post":
                buttons.append(
                    format_html(
                        '<form method="post" action="{}" class="room-remedy">'
                        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
                        '<button type="submit" class="button default">{}</button></form>',
                        remedy.url,
                        token,
                        remedy.label,
                    )
                )
            else:
                buttons.append(format_html('<a class="button" href="{}">{}</a>', remedy.url, remedy.label))
        message = format_html(
            "{} {}", error.message, format_html_join("", "{}", ((b,) for b in buttons)) if buttons else ""
        )
        self.message_user(request, message, messages.ERROR)

    def try_close(self, request, incident: Incident) -> None:
        try:
            with transaction.atomic():
                services.close(incident=incident, actor=request.user)
        except ServiceError as exc:
            self.close_refused(request, incident, exc)
            return
        self.message_user(request, f"{incident.reference} is closed.", messages.SUCCESS)
