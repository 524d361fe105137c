"""Deployments in the admin: read-only records (pipelines and releases write them), plus the
incident room's confirm/deny of a "caused by" suggestion (a POST view calling the service)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from deployments import permissions, services
from deployments.models import Deployment, IncidentLink
from incidents.models import Incident
from opsportal.admin_base import ServiceModelAdmin
from opsportal.badges import badge
from opsportal.parsing import parse_id

TONES = {
    Deployment.Status.RUNNING: "blue",
    Deployment.Status.SUCCEEDED: "green",
    Deployment.Status.FAILED: "red",
    Deployment.Status.ROLLED_BACK: "amber",
}


@admin.register(Deployment)
class DeploymentAdmin(ServiceModelAdmin):
    """Read-only: written by pipelines (API, ``report_deploy``) and releases."""

    list_display = ["started_at", "version", "service_list", "environment", "status_col", "change_failure",
                    "reviewed", "rollback_tested", "triggered_by"]  # fmt: skip
    list_filter = ["status", "environment", "change_failure", "reviewed", "rollback_tested"]
    search_fields = ["version", "client_key", "commit_sha", "services__slug"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    fields = [
        "client_key", "version", "environment", "status", "started_at", "finished_at", "rolled_back_at",
        "commit_sha", "commit_at", "pipeline_url", "triggered_by", "release", "reviewed", "rollback_tested",
        "change_failure", "reported_by", "incident_links_display",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description="Services")
    def service_list(self, obj):
        return ", ".join(sorted(s.slug for s in obj.services.all()))

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), TONES.get(obj.status, "grey"))

    @admin.display(description="Incident links")
    def incident_links_display(self, obj):
        links = obj.incident_links.select_related("incident", "decided_by")
        if not links:
            return "None"
        return format_html_join(
            format_html("<br>"),
            '<a href="{}">{}</a>: {} by {} at {}',
            (
                (
                    reverse("admin:incidents_incident_change", args=[link.incident_id]),
                    link.incident.reference,
                    link.get_verdict_display().lower(),
                    link.decided_by,
                    f"{link.decided_at:%Y-%m-%d %H:%M} UTC",
                )
                for link in links
            ),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "link/<int:incident_id>/<int:deployment_id>/<str:verdict>/",
                view(self.decide_view),
                name="deployments_deployment_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, incident_id, deployment_id, verdict):
        """Confirm or deny from the incident room; back to the incident page either way."""
        if request.method != "POST":
            raise PermissionDenied("Use the buttons on the incident page.")
        if not permissions.can_decide_links(request.user):
            raise PermissionDenied
        incident = Incident.objects.filter(pk=parse_id(incident_id) or 0).first()
        deployment = Deployment.objects.filter(pk=parse_id(deployment_id) or 0).first()
        if incident is None or deployment is None:
            raise Http404
        if verdict not in IncidentLink.Verdict.values:
            raise Http404
        word = "confirmed" if verdict == IncidentLink.Verdict.CONFIRMED else "denied"
        self.run_service(
            request, services.decide_link, actor=request.user, deployment=deployment, incident=incident,
            verdict=verdict, success=f"{incident.reference}: caused by {deployment.version} {word}.",
        )  # fmt: skip
        return HttpResponseRedirect(
            reverse("admin:incidents_incident_change", args=[incident.pk]) + "#deploy-causes"
        )
