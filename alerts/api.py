"""/api/v1/alerts/ (read-only) and /api/v1/alert-groups/ (read, acknowledge, resolve)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alerts import permissions, selectors, services
from alerts.models import Alert, AlertGroup
from opsportal.api.router import router
from opsportal.errors import NotAllowed


class AlertSerializer(serializers.ModelSerializer):
    source = serializers.CharField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "group", "integration", "source", "dedup_key", "status", "severity", "summary", "details",
            "labels", "annotations", "links", "runbook_url", "started_at", "first_seen_at", "last_seen_at",
            "occurrences", "resolved_at", "decision",
        ]  # fmt: skip
        read_only_fields = fields


class AlertGroupSerializer(serializers.ModelSerializer):
    service_name = serializers.CharField(source="service.name", read_only=True)
    source = serializers.CharField(source="integration.kind", read_only=True)

    class Meta:
        model = AlertGroup
        fields = [
            "id", "title", "integration", "source", "service", "service_name", "group_key", "severity", "status",
            "urgency", "disposition", "decision", "labels", "runbook_url", "is_storm", "storm", "page", "incident",
            "alert_count", "started_at", "last_alert_at", "created_at", "acknowledged_at", "acknowledged_by",
            "taken_over_by", "resolved_at", "resolve_reason",
        ]  # fmt: skip
        read_only_fields = fields


class AlertGroupResolveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertSerializer
    filterset_fields = ["status", "severity", "group", "integration", "source"]
    search_fields = ["summary", "dedup_key"]
    ordering_fields = ["last_seen_at", "started_at"]

    def get_queryset(self):
        return Alert.objects.order_by("-last_seen_at", "-pk")


class AlertGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertGroupSerializer
    filterset_fields = ["status", "service", "integration", "disposition", "incident"]
    search_fields = ["title", "group_key"]
    ordering_fields = ["created_at", "last_alert_at"]

    def get_queryset(self):
        return selectors.groups().order_by("-created_at", "-pk")

    def get_permissions(self):
        if self.action in ("acknowledge", "resolve"):
            return [IsAuthenticated()]  # alerts.respond_alertgroup, checked below
        return super().get_permissions()

    def _group(self, request) -> AlertGroup:
        if not permissions.can_respond(request.user):
            raise NotAllowed("Only responders and engineering managers act on alerts.")
        return self.get_object()

    @extend_schema(
        request=None,
        responses={
            200: AlertGroupSerializer,
            409: OpenApiResponse(description="Already acknowledged or resolved."),
        },
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Acknowledge the group and its page."""
        group = services.acknowledge_group(group=self._group(request), actor=request.user)
        return Response(AlertGroupSerializer(selectors.groups().get(pk=group.pk)).data)

    @extend_schema(
        request=AlertGroupResolveSerializer,
        responses={200: AlertGroupSerializer, 409: OpenApiResponse(description="Already resolved.")},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolve the group, its alerts and its page."""
        group = self._group(request)
        body = AlertGroupResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group = services.resolve_group(
            group=group, actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(AlertGroupSerializer(selectors.groups().get(pk=group.pk)).data)


router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-groups", AlertGroupViewSet, basename="alert-group")
