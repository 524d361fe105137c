"""/api/v1/responsibilities/ (+ check-in/, reassign/, cycles/) and /api/v1/check-ins/."""

import django_filters
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Service
from operations import selectors, services
from operations.models import CheckIn, Health, Responsibility
from opsportal.api.permissions import DjangoModelPermissionsWithView
from opsportal.api.router import router


class ResponsibilitySerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)
    area_label = serializers.CharField(read_only=True)
    cadence_display = serializers.CharField(read_only=True)
    services = serializers.PrimaryKeyRelatedField(many=True, queryset=Service.objects.all(), required=False)
    health = serializers.SerializerMethodField()
    last_done_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_done_by = serializers.IntegerField(source="last_done_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Responsibility
        fields = [
            "id", "title", "team", "team_name", "area", "area_other", "area_label", "definition_of_done",
            "owner", "backup", "services", "cadence", "first_due_on", "due_time", "cron_expression",
            "time_zone", "cadence_display", "remind_before", "active", "next_due_at", "due_soon_at",
            "health", "last_done_at", "last_done_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["next_due_at", "due_soon_at", "created_at", "updated_at"]

    @extend_schema(responses=serializers.ChoiceField(choices=Health.choices))
    def get_health(self, obj) -> str:
        return obj.health_at(self.context.get("now") or timezone.now())

    def create(self, validated_data):
        return services.save_responsibility(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.save_responsibility(
            actor=self.context["request"].user, responsibility=instance, **validated_data
        )


class CheckInSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckIn
        fields = [
            "id", "responsibility", "done_by", "done_at", "note", "evidence_url", "covers_due_at", "late",
            "missed_before", "via", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields


class CheckInRequestSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    evidence_url = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")
    done_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReassignRequestSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False
    )
    backup = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False
    )


class CycleSerializer(serializers.Serializer):
    due_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=["done", "late", "missed", "overdue", "upcoming"])
    check_in = serializers.IntegerField(allow_null=True, source="check_in.pk", default=None)


class ResponsibilityFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    health = django_filters.ChoiceFilter(choices=Health.choices, method="filter_health", label="Health now")

    class Meta:
        model = Responsibility
        fields = ["team", "owner", "backup", "area", "cadence", "active", "health"]

    def filter_health(self, queryset, name, value):
        return queryset.with_health(value, timezone.now())


ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
    404: OpenApiResponse(description="No such duty."),
    409: OpenApiResponse(description="This cycle is already done, or the duty is retired."),
}


class ResponsibilityPermission(DjangoModelPermissionsWithView):
    """Model permissions; check-in and reassign need only ``view`` here because the service
    decides (owner, backup, team manager, engineering managers)."""

    def has_permission(self, request, view):
        if view.action in ("check_in", "reassign"):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm("operations.view_responsibility"))
        return super().has_permission(request, view)


@extend_schema_view(
    list=extend_schema(summary="List duties with health"),
    retrieve=extend_schema(summary="Get a duty"),
    create=extend_schema(summary="Create a duty", responses={201: ResponsibilitySerializer, **ERRORS}),
    update=extend_schema(summary="Replace a duty", responses={200: ResponsibilitySerializer, **ERRORS}),
    partial_update=extend_schema(summary="Edit a duty", responses={200: ResponsibilitySerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a duty (prefer retiring it: active=false)"),
)
class ResponsibilityViewSet(viewsets.ModelViewSet):
    serializer_class = ResponsibilitySerializer
    permission_classes = [ResponsibilityPermission]
    filterset_class = ResponsibilityFilter
    search_fields = ["title", "definition_of_done", "area_other"]
    ordering_fields = ["title", "next_due_at", "created_at"]
    queryset = Responsibility.objects.none()  # schema introspection; see get_queryset

    def get_queryset(self):
        return selectors.with_last_check_in(
            Responsibility.objects.select_related("team", "owner", "backup").prefetch_related("services")
        ).order_by("team__name", "title")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        summary="Record this cycle as done (resets the clock)",
        request=CheckInRequestSerializer,
        responses={201: CheckInSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        duty = self.get_object()
        body = CheckInRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = services.check_in(
            responsibility=duty, actor=request.user, via=CheckIn.Via.API, **body.validated_data
        )
        return Response(CheckInSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Hand the duty to a new owner and/or backup",
        request=ReassignRequestSerializer,
        responses={200: ResponsibilitySerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        duty = self.get_object()
        body = ReassignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.reassign(responsibility=duty, actor=request.user, **body.validated_data)
        fresh = self.get_queryset().get(pk=duty.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(
        summary="The latest cycles, newest first: done, late, missed, overdue, upcoming",
        responses={200: CycleSerializer(many=True), 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def cycles(self, request, pk=None):
        duty = self.get_object()
        return Response(CycleSerializer(selectors.cycle_history(duty), many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List check-ins, newest first"),
    retrieve=extend_schema(summary="Get a check-in"),
)
class CheckInViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CheckInSerializer
    filterset_fields = ["responsibility", "done_by", "late", "via"]
    ordering_fields = ["done_at"]
    queryset = CheckIn.objects.order_by("-done_at", "-pk")


router.register("responsibilities", ResponsibilityViewSet, basename="responsibility")
router.register("check-ins", CheckInViewSet, basename="check-in")
