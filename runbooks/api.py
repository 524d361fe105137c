"""/api/v1/runbooks/: search (``?q=``), filters, CRUD, and review / test / restore transitions."""

import django_filters
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Service
from opsportal.api.router import router
from opsportal.errors import InvalidInput
from opsportal.links import absolute_url
from opsportal.parsing import parse_int
from runbooks import selectors, services
from runbooks.models import Runbook


class RunbookServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "slug", "name"]


class RunbookSerializer(serializers.ModelSerializer):
    services = serializers.PrimaryKeyRelatedField(many=True, queryset=Service.objects.all(), required=False)
    service_details = RunbookServiceSerializer(source="services", many=True, read_only=True)
    owner_team_name = serializers.CharField(source="owner_team.name", read_only=True)
    freshness = serializers.ChoiceField(choices=Runbook.Freshness.choices, read_only=True)
    reviewed_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    tested_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    page_url = serializers.SerializerMethodField()
    rank = serializers.SerializerMethodField()

    class Meta:
        model = Runbook
        fields = [
            "id", "slug", "title", "summary", "owner_team", "owner_team_name", "services", "service_details",
            "scenarios", "diagnostic_steps", "mitigation", "rollback", "escalation_notes", "body",
            "review_interval_days", "freshness", "review_due_at", "stale_at",
            "last_reviewed_at", "reviewed_by", "review_note",
            "last_tested_at", "tested_by", "test_evidence_url", "test_evidence_note",
            "page_url", "rank", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "review_due_at", "stale_at", "last_reviewed_at", "review_note", "last_tested_at",
            "test_evidence_url", "test_evidence_note", "created_at", "updated_at",
        ]  # fmt: skip

    def get_page_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def get_rank(self, obj) -> float | None:
        """Search relevance (higher is better) when ``?q=`` is given."""
        rank = getattr(obj, "rank", None)
        return None if rank is None else round(float(rank), 6)

    def create(self, validated_data):
        return services.save_runbook(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.save_runbook(actor=self.context["request"].user, runbook=instance, **validated_data)


class ReviewSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class RecordTestSerializer(serializers.Serializer):
    evidence_url = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")
    evidence_note = serializers.CharField(required=False, allow_blank=True, default="")
    tested_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RestoreSerializer(serializers.Serializer):
    history_id = serializers.IntegerField(min_value=1)


class VersionSerializer(serializers.Serializer):
    history_id = serializers.IntegerField()
    history_date = serializers.DateTimeField()
    history_type = serializers.CharField(help_text="+ created, ~ changed, - deleted")
    history_user = serializers.CharField(allow_null=True)
    history_change_reason = serializers.CharField(allow_null=True)
    title = serializers.CharField()


class RunbookFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Full-text search (title, scenarios, steps, body)")
    team = django_filters.CharFilter(field_name="owner_team__slug", label="Owner team slug")
    service = django_filters.CharFilter(method="filter_service", label="Service slug")
    freshness = django_filters.ChoiceFilter(choices=Runbook.Freshness.choices, method="filter_freshness")

    class Meta:
        model = Runbook
        fields = ["owner_team"]

    def filter_service(self, queryset, name, value):
        links = Runbook.services.through.objects.filter(runbook_id=OuterRef("pk"), service__slug=value)
        return queryset.filter(Exists(links))

    def filter_freshness(self, queryset, name, value):
        return queryset.filter(selectors.freshness_q(value))

    def filter_q(self, queryset, name, value):
        return selectors.search(value, queryset=queryset)


class RunbookViewSet(viewsets.ModelViewSet):
    serializer_class = RunbookSerializer
    filterset_class = RunbookFilter
    lookup_field = "slug"
    ordering_fields = ["title", "review_due_at", "last_tested_at", "updated_at"]

    def get_queryset(self):
        return selectors.base_queryset().order_by("title")

    @extend_schema(request=ReviewSerializer, responses={200: RunbookSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, slug=None):
        """Mark the runbook reviewed: its steps are still right. Restarts the review clock."""
        data = self._valid(ReviewSerializer, request)
        runbook = services.mark_reviewed(runbook=self.get_object(), actor=request.user, note=data["note"])
        return self._fresh(runbook)

    @extend_schema(request=RecordTestSerializer, responses={200: RunbookSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, slug=None):
        """Record a test (game day, drill, real incident) with evidence: a link, a note or both."""
        data = self._valid(RecordTestSerializer, request)
        runbook = services.record_test(runbook=self.get_object(), actor=request.user, **data)
        return self._fresh(runbook)

    @extend_schema(request=RestoreSerializer, responses={200: RunbookSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, slug=None):
        """Restore the content of an old version (see ``history``); the restore is a new version."""
        data = self._valid(RestoreSerializer, request)
        runbook = services.restore_version(
            runbook=self.get_object(), history_id=data["history_id"], actor=request.user
        )
        return self._fresh(runbook)

    @extend_schema(
        responses={200: VersionSerializer(many=True)},
        parameters=[OpenApiParameter("limit", int, description="Versions to return (default 50, max 200)")],
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request, slug=None):
        """The runbook's versions, newest first."""
        runbook = self.get_object()
        limit = parse_int(request.query_params.get("limit") or "50", min_value=0)
        if limit is None:  # 0 and numbers over 200 are clamped, like before
            raise InvalidInput("Give limit as a whole number from 1 to 200.", field="limit")
        limit = max(1, min(200, limit))
        rows = runbook.history.select_related("history_user").order_by("-history_date", "-history_id")[:limit]
        data = [
            {
                "history_id": r.history_id,
                "history_date": r.history_date,
                "history_type": r.history_type,
                "history_user": str(r.history_user) if r.history_user else None,
                "history_change_reason": r.history_change_reason,
                "title": r.title,
            }
            for r in rows
        ]
        return Response(VersionSerializer(data, many=True).data)

    def _valid(self, serializer_class, request):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _fresh(self, runbook):
        runbook = selectors.base_queryset().get(pk=runbook.pk)
        return Response(self.get_serializer(runbook).data, status=status.HTTP_200_OK)


router.register("runbooks", RunbookViewSet, basename="runbook")
