"""/api/v1/probes/ (CRUD, results, events, uptime, pause/resume/run-now),
/api/v1/probe-alerts/ (read-only) and /api/v1/maintenance-windows/ (CRUD)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from opsportal.api.router import router
from opsportal.links import absolute_reverse
from probes import permissions as probe_permissions
from probes import selectors, services
from probes.models import RUNTIME_FIELDS, MaintenanceWindow, Probe, ProbeAlert, ProbeEvent, ProbeResult


class ProbeSerializer(serializers.ModelSerializer):
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        write_only=True,
        help_text="Request headers. Read back masked in headers_masked; send a masked value to keep it.",
    )
    headers_masked = serializers.SerializerMethodField()
    ping_url = serializers.SerializerMethodField()
    service_name = serializers.CharField(source="service.name", read_only=True)

    class Meta:
        model = Probe
        fields = [
            "id", "uuid", "name", "service", "service_name", "kind", "state", "description", "runbook",
            "interval_seconds", "timeout_seconds", "failure_threshold", "success_threshold",
            "url", "method", "headers", "headers_masked", "request_body", "expected_statuses", "body_contains",
            "json_path", "json_expected", "latency_threshold_ms", "follow_redirects",
            "host", "port", "sni_name", "warn_days", "critical_days",
            "period_seconds", "cron", "cron_timezone", "grace_seconds", "ping_url",
            "incident_severity",
            "last_checked_at", "last_ok_at", "last_error", "last_latency_ms", "last_status_code", "last_ping_at",
            "last_duration_ms", "next_run_at", "state_changed_at", "cert_expires_at", "cert_issuer", "cert_sans",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [*RUNTIME_FIELDS, "uuid", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_headers_masked(self, obj) -> dict:
        return {k: services.mask_secret(v) for k, v in (obj.headers or {}).items()}

    def get_ping_url(self, obj) -> str | None:
        if obj.kind != Probe.Kind.HEARTBEAT:
            return None
        return absolute_reverse("probes:ping", ping_uuid=str(obj.uuid))

    def create(self, validated_data):
        return services.save_probe(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.save_probe(probe=instance, actor=self.context["request"].user, **validated_data)


class ProbeResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProbeResult
        fields = ["id", "checked_at", "outcome", "ok", "source", "latency_ms", "status_code", "error"]


class ProbeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProbeEvent
        fields = ["id", "created_at", "from_state", "to_state", "reason"]


class UptimeSerializer(serializers.Serializer):
    uptime_24h = serializers.FloatField(allow_null=True)
    uptime_7d = serializers.FloatField(allow_null=True)
    uptime_30d = serializers.FloatField(allow_null=True)
    latency_p50_ms_24h = serializers.FloatField(allow_null=True)
    latency_p95_ms_24h = serializers.FloatField(allow_null=True)


class ProbeChangePermission(permissions.BasePermission):
    """Transitions (pause, resume, run now) need operate_probe, not add or change_probe."""

    def has_permission(self, request, view):
        return probe_permissions.can_operate(request.user)


TRANSITION_RESPONSES = {
    200: ProbeSerializer,
    400: OpenApiResponse(description="Not possible for this probe kind"),
    409: OpenApiResponse(description="Not allowed from the current state"),
}


class ProbeViewSet(viewsets.ModelViewSet):
    serializer_class = ProbeSerializer
    filterset_fields = ["service", "kind", "state", "runbook"]
    search_fields = ["name", "url", "host"]
    ordering_fields = ["name", "state", "last_checked_at", "cert_expires_at"]

    def get_queryset(self):
        return Probe.objects.select_related("service").order_by("name")

    def get_permissions(self):
        if self.action in {"pause", "resume", "run_now"}:
            return [ProbeChangePermission()]
        return super().get_permissions()

    def _page(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=ProbeResultSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def results(self, request, pk=None):
        """Results, newest first (retention: PROBE_RESULT_RETENTION_DAYS)."""
        probe = self.get_object()
        return self._page(
            ProbeResult.objects.filter(probe=probe).order_by("-checked_at"), ProbeResultSerializer
        )

    @extend_schema(responses=ProbeEventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        """State changes, newest first."""
        probe = self.get_object()
        return self._page(
            ProbeEvent.objects.filter(probe=probe).order_by("-created_at", "-id"), ProbeEventSerializer
        )

    @extend_schema(responses=UptimeSerializer, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def uptime(self, request, pk=None):
        probe = self.get_object()
        now = timezone.now()
        windows = selectors.uptime_windows(probe, now=now)
        pct = selectors.latency_percentiles(probe, since=now - timedelta(hours=24))
        return Response(
            UptimeSerializer(
                {
                    "uptime_24h": windows["24h"],
                    "uptime_7d": windows["7d"],
                    "uptime_30d": windows["30d"],
                    "latency_p50_ms_24h": pct[0.5],
                    "latency_p95_ms_24h": pct[0.95],
                }
            ).data
        )

    def _transition(self, fn):
        probe = self.get_object()
        fn(probe=probe, actor=self.request.user)
        probe.refresh_from_db()
        return Response(ProbeSerializer(probe, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._transition(services.pause_probe)

    @extend_schema(request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(services.resume_probe)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("ProbeRunNow", {"lease_token": serializers.UUIDField()}),
            400: TRANSITION_RESPONSES[400],
            409: TRANSITION_RESPONSES[409],
        },
    )
    @action(detail=True, methods=["post"], url_path="run-now")
    def run_now(self, request, pk=None):
        token = services.run_now(probe=self.get_object(), actor=request.user)
        return Response({"lease_token": str(token)}, status=202)


class ProbeAlertSerializer(serializers.ModelSerializer):
    probe_name = serializers.CharField(source="probe.name", read_only=True)

    class Meta:
        model = ProbeAlert
        fields = [
            "id", "probe", "probe_name", "service", "status", "disposition", "grouped_under", "summary",
            "opened_at", "detected_at", "started_at", "resolved_at", "page_id", "incident_id",
        ]  # fmt: skip


class ProbeAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ProbeAlertSerializer
    filterset_fields = ["probe", "service", "status", "disposition"]
    ordering_fields = ["opened_at"]

    def get_queryset(self):
        return ProbeAlert.objects.select_related("probe").order_by("-opened_at", "-pk")


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    active_now = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "service", "probe", "reason", "starts_at", "ends_at", "recurrence_cron", "recurrence_timezone",
            "duration_minutes", "active_now", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at"]

    def get_active_now(self, obj) -> bool:
        return services.window_active(obj, timezone.now())

    def create(self, validated_data):
        return services.save_maintenance_window(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.save_maintenance_window(window=instance, **validated_data)


class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    serializer_class = MaintenanceWindowSerializer
    filterset_fields = ["service", "probe"]
    ordering_fields = ["starts_at"]

    def get_queryset(self):
        return MaintenanceWindow.objects.order_by("-starts_at", "-pk")


router.register("probes", ProbeViewSet, basename="probe")
router.register("probe-alerts", ProbeAlertViewSet, basename="probe-alert")
router.register("maintenance-windows", MaintenanceWindowViewSet, basename="maintenance-window")
