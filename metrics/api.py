"""/api/v1/metrics/ (the dashboard's numbers as JSON) and /api/v1/metrics/export/
(per-incident metric rows). Both parse filters with metrics.forms.MetricFilterForm and
compute with metrics.selectors, exactly like the dashboard."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from metrics import delivery, selectors
from metrics.forms import MetricFilterForm
from metrics.permissions import can_view_metrics
from opsportal.api.router import router


class CanViewMetrics(BasePermission):
    message = "You may not see operational metrics."

    def has_permission(self, request, view):
        return can_view_metrics(request.user)


def _metric_field(key: str) -> serializers.Field:
    return StatsSerializer(
        help_text=f"{selectors.LABELS.get(key, key)}: {selectors.DEFINITIONS.get(key, '')}"
    )


class StatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Incidents counted in this metric.")
    excluded = serializers.IntegerField(
        help_text="Incidents in scope left out because a timestamp is missing."
    )
    mean_seconds = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True, help_text="90th percentile (continuous).")


class MetricSetSerializer(serializers.Serializer):
    time_to_detect = _metric_field("time_to_detect")
    time_to_acknowledge = _metric_field("time_to_acknowledge")
    time_to_mitigate = _metric_field("time_to_mitigate")
    time_to_resolve = _metric_field("time_to_resolve")
    customer_impact_duration = _metric_field("customer_impact_duration")


class DetectBySourceSerializer(serializers.Serializer):
    monitoring = StatsSerializer()
    slo = StatsSerializer()
    support = StatsSerializer()
    manual = StatsSerializer()


class CountRowSerializer(serializers.Serializer):
    severity = serializers.CharField()
    count = serializers.IntegerField()


class TeamCountSerializer(serializers.Serializer):
    team_id = serializers.IntegerField(allow_null=True)
    team = serializers.CharField()
    count = serializers.IntegerField()


class ServiceCountSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    service = serializers.CharField()
    count = serializers.IntegerField()


class WeekCountSerializer(serializers.Serializer):
    week_start = serializers.DateTimeField()
    count = serializers.IntegerField()


class FrequencySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_severity = CountRowSerializer(many=True)
    by_team = TeamCountSerializer(many=True, help_text="Top 10 teams.")
    by_service = ServiceCountSerializer(
        many=True, help_text="Top 10 services (each affected service counts)."
    )
    per_week = WeekCountSerializer(
        many=True, help_text="Local weeks (Monday 00:00 in TIME_ZONE) overlapping the period."
    )


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive.")


class AppliedFiltersSerializer(serializers.Serializer):
    team = serializers.IntegerField(allow_null=True)
    service = serializers.IntegerField(allow_null=True)
    severity = serializers.IntegerField(allow_null=True)
    detection_source = serializers.CharField(allow_null=True)


@extend_schema_serializer(many=False)  # the list action answers one report, not a list
class MetricsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = AppliedFiltersSerializer()
    incidents = serializers.IntegerField(help_text="Real (non-drill) incidents detected in the period.")
    metrics = MetricSetSerializer()
    time_to_detect_by_source = DetectBySourceSerializer(
        help_text="Time to detect per detection source: do support teams see issues before dashboards?"
    )
    frequency = FrequencySerializer()
    definitions = serializers.DictField(child=serializers.CharField())


class DeliveryStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Deployments counted.")
    excluded = serializers.IntegerField(help_text="In scope but left out (no commit time; not restored yet).")
    mean_seconds = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)


class DeliveryKeysSerializer(serializers.Serializer):
    deployments = serializers.IntegerField(help_text="Production deployments started.")
    succeeded = serializers.IntegerField()
    completed = serializers.IntegerField(help_text="Finished (or running but confirmed as a cause).")
    change_failures = serializers.IntegerField()
    change_failure_rate = serializers.FloatField(
        allow_null=True, help_text="change_failures / completed (0..1)."
    )
    lead_time = DeliveryStatsSerializer(help_text=delivery.DEFINITIONS["lead_time_for_changes"])
    time_to_restore = DeliveryStatsSerializer(help_text=delivery.DEFINITIONS["time_to_restore"])


class DeliveryWeekSerializer(DeliveryKeysSerializer):
    week_start = serializers.DateTimeField()


class DeliveryCountsSerializer(serializers.Serializer):
    deployments = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    completed = serializers.IntegerField()
    change_failures = serializers.IntegerField()
    change_failure_rate = serializers.FloatField(
        allow_null=True, help_text="change_failures / completed (0..1)."
    )


class DeliveryWeekdaySerializer(DeliveryCountsSerializer):
    weekday = serializers.CharField()


class DeliveryHourSerializer(DeliveryCountsSerializer):
    hour = serializers.IntegerField(help_text="Local hour (TIME_ZONE) of the deploy's start.")


class DeliveryEvidenceSerializer(DeliveryCountsSerializer):
    evidence = serializers.CharField()


class DeliveryServiceSerializer(DeliveryKeysSerializer):
    service = serializers.CharField()


class DeliveryTeamSerializer(DeliveryKeysSerializer):
    team = serializers.CharField()


class DeliveryFiltersSerializer(serializers.Serializer):
    team = serializers.IntegerField(allow_null=True)
    service = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(many=False)
class DeliverySerializer(DeliveryKeysSerializer):
    period = PeriodSerializer()
    filters = DeliveryFiltersSerializer()
    deployments_per_day = serializers.FloatField()
    per_week = WeekCountSerializer(many=True)
    trends = DeliveryWeekSerializer(many=True, help_text="The last 12 local weeks (period ignored).")
    by_weekday = DeliveryWeekdaySerializer(many=True)
    by_hour = DeliveryHourSerializer(many=True)
    by_readiness = DeliveryEvidenceSerializer(many=True)
    by_service = DeliveryServiceSerializer(many=True)
    by_team = DeliveryTeamSerializer(many=True)
    definitions = serializers.DictField(child=serializers.CharField())


FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day, inclusive (default: 29 days ago)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive (default: today)."),
    OpenApiParameter("team", OpenApiTypes.INT, description="Owning team id."),
    OpenApiParameter("service", OpenApiTypes.INT, description="Service id (primary or affected)."),
    OpenApiParameter("severity", OpenApiTypes.INT, enum=[1, 2, 3, 4], description="Severity level."),
    OpenApiParameter(
        "detection_source",
        OpenApiTypes.STR,
        enum=["monitoring", "slo", "support", "manual"],
        description="How it was detected.",
    ),
]
DESCRIPTION = (
    "Operational metrics over real (non-drill) incidents.\n\n"
    + "\n".join(f"- **{key}**: {text}" for key, text in selectors.DEFINITIONS.items())
    + "\n\n"
    + selectors.COMMON_RULES
)

CSV_COLUMNS = [
    ("reference", lambda r: f"INC-{r['number']}"),
    ("title", lambda r: r["title"]),
    ("severity", lambda r: f"SEV-{r['severity__level']}"),
    ("status", lambda r: r["status"]),
    ("detection_source", lambda r: r["detection_source"]),
    ("team", lambda r: r["owning_team__name"] or ""),
    ("primary_service", lambda r: r["primary_service__name"] or ""),
    ("started_at", lambda r: _iso(r["started_at"])),
    ("detected_at", lambda r: _iso(r["detected_at"])),
    ("acknowledged_at", lambda r: _iso(r["acknowledged_at"])),
    ("mitigated_at", lambda r: _iso(r["mitigated_at"])),
    ("resolved_at", lambda r: _iso(r["resolved_at"])),
    ("customer_impact", lambda r: "yes" if r["has_customer_impact"] else "no"),
    ("customers_affected", lambda r: "" if r["customers_affected"] is None else r["customers_affected"]),
    *((f"{key}_seconds", lambda r, key=key: _seconds(r[f"{key}_duration"])) for key in selectors.LABELS),
]


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _seconds(duration) -> str:
    """Exact seconds: 1123457, 2345678.25 (never float formatting such as 1.12346e+06)."""
    return "" if duration is None else str(selectors.exact_seconds(duration))


def _csv_safe(value) -> object:
    """Cells starting with = + - @ are formulas to spreadsheets: prefix a quote."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


class _Echo:
    def write(self, value):
        return value


class MetricsViewSet(viewsets.ViewSet):
    permission_classes = [CanViewMetrics]
    pagination_class = None

    def _filters(self, request) -> selectors.Filters:
        form = MetricFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
        return form.filters()

    @extend_schema(
        summary="Operational metrics (MTTD, MTTA, MTTM, MTTR, customer impact, frequency)",
        description=DESCRIPTION,
        parameters=FILTER_PARAMETERS,
        responses={200: MetricsSerializer, 400: OpenApiResponse(description="Invalid filter.")},
    )
    def list(self, request):
        return Response(MetricsSerializer(selectors.report(self._filters(request))).data)

    @extend_schema(
        summary="Delivery metrics: DORA's four keys with weekday, hour and readiness breakdowns",
        description="Production deployments started in the period.\n\n"
        + "\n".join(f"- **{key}**: {text}" for key, text in delivery.DEFINITIONS.items())
        + "\n\nseverity and detection_source are accepted (the dashboard's filters) and do not apply.",
        parameters=FILTER_PARAMETERS,
        responses={200: DeliverySerializer, 400: OpenApiResponse(description="Invalid filter.")},
    )
    @action(detail=False, methods=["get"], url_path="delivery", url_name="delivery")
    def delivery(self, request):
        return Response(DeliverySerializer(delivery.delivery_report(self._filters(request))).data)

    @extend_schema(
        summary="Per-incident metric rows as CSV",
        description="One row per real incident detected in the period; columns: "
        + ", ".join(name for name, _ in CSV_COLUMNS)
        + ". Durations in exact seconds (integers, or decimals to the microsecond), empty when a "
        "timestamp is missing.",
        parameters=FILTER_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: OpenApiResponse(description="Invalid filter.")},
    )
    @action(detail=False, methods=["get"], url_path="export", url_name="export")
    def export(self, request):
        filters = self._filters(request)
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow([name for name, _ in CSV_COLUMNS])
            for row in selectors.incident_rows(filters).iterator(chunk_size=2000):
                yield writer.writerow([_csv_safe(get(row)) for _, get in CSV_COLUMNS])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        name = f"incident-metrics-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


router.register("metrics", MetricsViewSet, basename="metrics")
