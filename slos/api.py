"""/api/v1/slos/ (CRUD, budget series, pushed events) and /api/v1/slo-burn-alerts/ (read-only)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from opsportal.api.params import instant_param, instant_parameter
from opsportal.api.router import router
from opsportal.errors import InvalidInput
from probes.models import Probe
from slos import engine, selectors, services
from slos import permissions as slo_permissions
from slos.models import SLO, BurnAlert

ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
    404: OpenApiResponse(description="No such SLO."),
}
MAX_BUDGET_SPAN = timedelta(days=92)


class BurnRuleSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["page", "ticket"])
    factor = serializers.FloatField(min_value=0.0001, max_value=10_000)
    long_minutes = serializers.IntegerField(min_value=2, max_value=44_640)
    short_minutes = serializers.IntegerField(min_value=1, max_value=44_639)


class SLOSerializer(serializers.ModelSerializer):
    probes = serializers.PrimaryKeyRelatedField(many=True, queryset=Probe.objects.all(), required=False)
    burn_rules = BurnRuleSerializer(many=True, required=False)
    objective = serializers.DecimalField(max_digits=7, decimal_places=4, min_value=50, max_value=100)
    service_slug = serializers.CharField(source="service.slug", read_only=True)

    class Meta:
        model = SLO
        fields = [
            "id", "service", "service_slug", "name", "kind", "objective", "window", "owner_team", "description",
            "probes", "degraded_is_good", "latency_threshold_ms", "prometheus_good_query", "prometheus_total_query",
            "burn_rules", "open_incident", "incident_severity", "is_active", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        # uniqueness is the service's to check (one message, one place)
        validators = []

    def create(self, validated_data):
        return services.save_slo(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.save_slo(slo=instance, actor=self.context["request"].user, **validated_data)


class BudgetTotalsSerializer(serializers.Serializer):
    good = serializers.IntegerField()
    total = serializers.IntegerField()
    sli = serializers.FloatField(allow_null=True, help_text="good / total; null: no data.")
    budget_consumed = serializers.FloatField(
        allow_null=True, help_text="1.0 = exactly the budget; null: no data, or infinite (100 % objective)."
    )
    budget_remaining = serializers.FloatField(allow_null=True, help_text="1 - consumed; null: no data.")
    exhausted = serializers.BooleanField()


class BudgetPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    good = serializers.IntegerField()
    total = serializers.IntegerField()
    budget_remaining = serializers.FloatField(allow_null=True)


class BudgetSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket = serializers.ChoiceField(choices=["hour", "day"])
    totals = BudgetTotalsSerializer()
    burn_rate_1h = serializers.FloatField(allow_null=True)
    points = BudgetPointSerializer(many=True)


class EventSerializer(serializers.Serializer):
    minute = serializers.DateTimeField(help_text="Start of the minute (seconds zero), with an offset.")
    good = serializers.IntegerField(min_value=0, max_value=10**12)
    total = serializers.IntegerField(min_value=0, max_value=10**12)


class EventsSerializer(serializers.Serializer):
    events = EventSerializer(many=True, allow_empty=False, max_length=services.MAX_PUSH_MINUTES)


class PushPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        return slo_permissions.can_push(request.user)


def _finite(value):
    return None if value is None or value == float("inf") else value


class EventsStoredSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="How many minutes of counts were stored.")


@extend_schema_view(
    list=extend_schema(summary="List SLOs"),
    retrieve=extend_schema(summary="Get an SLO", responses={200: SLOSerializer, 404: ERRORS[404]}),
    create=extend_schema(summary="Define an SLO", responses={201: SLOSerializer, **ERRORS}),
    update=extend_schema(summary="Change an SLO", responses={200: SLOSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Change part of an SLO", responses={200: SLOSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete an SLO (its rollups and burn alerts go with it)"),
)
class SLOViewSet(viewsets.ModelViewSet):
    serializer_class = SLOSerializer
    filterset_fields = ["service", "kind", "owner_team", "is_active"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "objective", "created_at"]

    def get_queryset(self):
        return (
            SLO.objects.select_related("service")
            .prefetch_related("probes")
            .order_by("service__name", "name", "pk")
        )

    def get_permissions(self):
        if self.action == "events":
            return [PushPermission()]
        return super().get_permissions()

    def perform_destroy(self, instance):
        services.delete_slo(slo=instance, actor=self.request.user)

    @extend_schema(
        summary="Budget totals and burn-down series over [start, end)",
        parameters=[
            instant_parameter("start", "Series start (default: the start of the SLO window)."),
            instant_parameter("end", "Series end (default now; at most 92 days after start)."),
        ],
        responses={200: BudgetSerializer, **ERRORS},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def budget(self, request, pk=None):
        slo = self.get_object()
        now = timezone.now()
        end = instant_param(request.query_params, "end", default=now)
        start = instant_param(request.query_params, "start", default=engine.window_start(slo.window, end))
        if end <= start:
            raise InvalidInput("end must be after start.", field="end")
        if end - start > MAX_BUDGET_SPAN:
            raise InvalidInput("The window is at most 92 days.", field="end")
        series = selectors.budget_series(slo, start, end)
        budget = series["budget"]
        burn = selectors.window_sums([slo.pk], [60], end)[slo.pk][60]
        consumed = budget.consumed
        data = {
            "start": series["start"], "end": series["end"], "bucket": series["bucket"],
            "totals": {
                "good": budget.good, "total": budget.total, "sli": budget.sli, "budget_consumed": _finite(consumed),
                "budget_remaining": budget.remaining, "exhausted": budget.exhausted,
            },
            "burn_rate_1h": _finite(engine.burn_rate(*burn, slo.objective)),
            "points": series["points"],
        }  # fmt: skip
        return Response(BudgetSerializer(data).data)

    @extend_schema(
        summary="Push good/total event counts per minute (SLI kind 'Events pushed by API')",
        description="A minute pushed again replaces its earlier counts, so a retried request changes nothing.",
        request=EventsSerializer,
        responses={
            200: EventsStoredSerializer,
            **ERRORS,
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def events(self, request, pk=None):
        slo = self.get_object()
        payload = EventsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        stored = services.push_events(slo=slo, actor=request.user, events=payload.validated_data["events"])
        return Response({"minutes": stored})


class BurnAlertSerializer(serializers.ModelSerializer):
    slo_name = serializers.CharField(source="slo.name", read_only=True)
    service = serializers.IntegerField(source="slo.service_id", read_only=True)

    class Meta:
        model = BurnAlert
        fields = [
            "id", "slo", "slo_name", "service", "severity", "status", "factor", "long_minutes", "short_minutes",
            "burn_rate_long", "burn_rate_short", "budget_remaining", "burn_started_at", "detected_at",
            "resolved_at", "refired_count", "page", "incident",
        ]  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="List burn-rate alerts (newest first)"),
    retrieve=extend_schema(summary="Get a burn-rate alert"),
)
class BurnAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BurnAlertSerializer
    filterset_fields = ["slo", "severity", "status"]
    ordering_fields = ["detected_at"]

    def get_queryset(self):
        return BurnAlert.objects.select_related("slo").order_by("-detected_at", "-pk")


router.register("slos", SLOViewSet, basename="slo")
router.register("slo-burn-alerts", BurnAlertViewSet, basename="slo-burn-alert")
