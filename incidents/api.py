"""/api/v1/incidents/ (with transitions, timeline/ and updates/) and /api/v1/severities/.

Support users have no model permission on incidents: they may list and retrieve open,
real incidents through ``selectors.open_incidents_for_support`` and see only title,
status, services and the customer message. Everything else answers 403 for them.
"""

from __future__ import annotations

import re

import django_filters
from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from catalog.models import Service, Team
from incidents import permissions, selectors, services
from incidents.models import Incident, Severity, StatusUpdate, TimelineEvent
from opsportal.api.params import InstantFilter
from opsportal.api.permissions import DjangoModelPermissionsWithView
from opsportal.api.router import router
from opsportal.links import absolute_url
from opsportal.parsing import parse_id
from runbooks.models import Runbook

User = get_user_model()


# --- serializers ---------------------------------------------------------------------------
class SeveritySerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)

    class Meta:
        model = Severity
        fields = [
            "id", "level", "label", "name", "description", "examples", "ack_sla_mode", "ack_sla_minutes",
            "update_cadence_minutes", "pages_oncall", "postmortem_required", "postmortem_due_business_days",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["level"]

    def update(self, instance, validated_data):
        return services.update_severity(
            severity=instance, actor=self.context["request"].user, **validated_data
        )


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    severity = serializers.SlugRelatedField(slug_field="level", read_only=True)
    severity_label = serializers.CharField(source="severity.label", read_only=True)
    peak_severity = serializers.SlugRelatedField(
        slug_field="level", read_only=True, help_text="The most severe level it ever had (postmortem rule)."
    )
    peak_severity_label = serializers.CharField(source="peak_severity.label", read_only=True)
    services = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    service_names = serializers.SerializerMethodField()
    runbooks = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    commander_name = serializers.StringRelatedField(source="commander", read_only=True, allow_null=True)
    next_update_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ack_due_at = serializers.DateTimeField(read_only=True)
    admin_url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id", "number", "reference", "title", "summary", "severity", "severity_label", "peak_severity",
            "peak_severity_label", "status", "drill",
            "detection_source", "services", "service_names", "primary_service", "owning_team", "commander",
            "commander_name", "comms_lead", "scribe", "runbooks", "declared_by", "acknowledged_by", "resolved_by",
            "customer_impact", "customers_affected", "reported_customers", "customer_message",
            "customer_message_updated_at", "channel_url", "tags", "started_at", "detected_at",
            "acknowledged_at", "mitigated_at", "resolved_at", "closed_at", "last_update_at",
            "next_update_due_at", "ack_due_at", "reopened_count", "created_at", "updated_at", "admin_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_service_names(self, obj) -> list[str]:
        return [s.name for s in obj.services.all()]

    def get_admin_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def to_representation(self, instance):
        data = super().to_representation(instance)
        due = instance.next_update_due_at()
        data["next_update_due_at"] = serializers.DateTimeField().to_representation(due) if due else None
        data["ack_due_at"] = serializers.DateTimeField().to_representation(instance.ack_due_at())
        return data


class DeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.SlugRelatedField(slug_field="level", queryset=Severity.objects.all())
    services = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Service.objects.all(), allow_empty=False
    )
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    detection_source = serializers.ChoiceField(
        choices=Incident.DetectionSource.choices, default=Incident.DetectionSource.MANUAL
    )
    detected_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    drill = serializers.BooleanField(required=False, default=False)
    owning_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    commander = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    customer_impact = serializers.CharField(required=False, allow_blank=True, default="")
    customers_affected = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    channel_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    tags = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class IncidentEditSerializer(serializers.Serializer):
    """Descriptive fields; status, severity, roles and acknowledgement have their own endpoints."""

    title = serializers.CharField(max_length=200, required=False)
    summary = serializers.CharField(required=False, allow_blank=True)
    services = serializers.PrimaryKeyRelatedField(many=True, queryset=Service.objects.all(), required=False)
    primary_service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), required=False, allow_null=True
    )
    owning_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    detection_source = serializers.ChoiceField(choices=Incident.DetectionSource.choices, required=False)
    drill = serializers.BooleanField(required=False)
    customer_impact = serializers.CharField(required=False, allow_blank=True)
    customers_affected = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    channel_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    tags = serializers.CharField(required=False, allow_blank=True, max_length=200)
    started_at = serializers.DateTimeField(required=False)


class TransitionSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When it happened (default now)."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CloseSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class SeverityChangeSerializer(serializers.Serializer):
    severity = serializers.SlugRelatedField(slug_field="level", queryset=Severity.objects.all())
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=list(services.ROLES.items()))
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True)


class RunbookLinkSerializer(serializers.Serializer):
    runbook = serializers.PrimaryKeyRelatedField(queryset=Runbook.objects.all())
    unlink = serializers.BooleanField(required=False, default=False, help_text="Remove the link instead.")


class CustomerMessageSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, max_length=5000)


class TimelineEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.StringRelatedField(source="actor", read_only=True, allow_null=True)
    related_type = serializers.SlugRelatedField(slug_field="model", read_only=True, allow_null=True)

    class Meta:
        model = TimelineEvent
        fields = [
            "id", "kind", "text", "actor", "actor_name", "occurred_at", "recorded_at", "related_type",
            "related_id", "data",
        ]  # fmt: skip
        read_only_fields = fields


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class StatusUpdateSerializer(serializers.ModelSerializer):
    author_name = serializers.StringRelatedField(source="author", read_only=True)

    class Meta:
        model = StatusUpdate
        fields = [
            "id", "audience", "text", "author", "author_name", "status", "replaced_customer_message", "posted_at",
        ]  # fmt: skip
        read_only_fields = fields


class PostUpdateSerializer(serializers.Serializer):
    audience = serializers.ChoiceField(choices=StatusUpdate.Audience.choices)
    text = serializers.CharField(max_length=5000)
    replace_customer_message = serializers.BooleanField(required=False, default=False)


class SupportIncidentSerializer(serializers.Serializer):
    """What support sees: no summary, roles, timestamps or internal notes."""

    id = serializers.IntegerField()
    number = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    services = serializers.ListField(child=serializers.CharField())
    customer_message = serializers.CharField()
    customer_message_updated_at = serializers.DateTimeField(allow_null=True)


# --- filters and permissions ----------------------------------------------------------------
DETECTED_LABEL = (
    "%s this detection time: ISO 8601 date and time, offset within +/-15:59 (none: TIME_ZONE), "
    "between 2000-01-01 and 2101-01-01 UTC"
)
REFERENCE_RE = re.compile(r"^\s*(?:inc[-\s]?)?(\d{1,9})\s*$", re.IGNORECASE)


class IncidentFilter(django_filters.FilterSet):
    severity = django_filters.NumberFilter(field_name="severity__level", label="Severity level (1-4)")
    team = django_filters.CharFilter(field_name="owning_team__slug", label="Owning team slug")
    service = django_filters.NumberFilter(field_name="services", label="Affected service id")
    open = django_filters.BooleanFilter(method="filter_open", label="Only open (true) or only done (false)")
    detected_after = InstantFilter(
        field_name="detected_at", lookup_expr="gte", require_offset=False, label=DETECTED_LABEL % "From"
    )
    detected_before = InstantFilter(
        field_name="detected_at", lookup_expr="lt", require_offset=False, label=DETECTED_LABEL % "Before"
    )
    reference = django_filters.CharFilter(method="filter_reference", label="INC-1234 or 1234")

    class Meta:
        model = Incident
        fields = ["status", "detection_source", "drill", "owning_team", "commander"]

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.exclude(status__in=Incident.OPEN_STATUSES)

    def filter_reference(self, queryset, name, value):
        match = REFERENCE_RE.match(value or "")
        return queryset.filter(number=int(match.group(1))) if match else queryset.none()


ACTIONS_NEEDING_CHANGE = {
    "acknowledge", "identify", "mitigate", "resolve", "reopen", "close", "take_command", "severity",
    "roles", "customer_message", "timeline", "updates", "runbooks",
}  # fmt: skip


class IncidentPermission(DjangoModelPermissionsWithView):
    """Model permissions, plus: support may list/retrieve the narrow view; transitions and
    writes to timeline/updates need ``change_incident`` (the services check the role too)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.action in ("list", "retrieve") and request.method in SAFE_METHODS and _support_only(user):
            return True
        if view.action in ACTIONS_NEEDING_CHANGE and request.method not in SAFE_METHODS:
            return user.has_perm("incidents.change_incident")
        return super().has_permission(request, view)


def _support_only(user) -> bool:
    return not user.has_perm("incidents.view_incident") and permissions.can_read_support_view(user)


# --- viewsets ------------------------------------------------------------------------------
ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
    404: OpenApiResponse(description="No such incident."),
    409: OpenApiResponse(description="Not allowed from the current state, or lost a race."),
}


def transition_schema(summary: str, request=TransitionSerializer):
    return extend_schema(summary=summary, request=request, responses={200: IncidentSerializer, **ERRORS})


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        description="Support users get only open, non-drill incidents with title, status, services and "
        "customer message (the SupportIncident shape); filters do not apply to them.",
        responses={200: IncidentSerializer(many=True)},
    ),
    retrieve=extend_schema(summary="Get an incident", responses={200: IncidentSerializer, 404: ERRORS[404]}),
    create=extend_schema(
        summary="Declare an incident",
        request=DeclareSerializer,
        responses={201: IncidentSerializer, **ERRORS},
    ),
    update=extend_schema(
        summary="Edit an incident's details",
        request=IncidentEditSerializer,
        responses={200: IncidentSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit some details",
        request=IncidentEditSerializer,
        responses={200: IncidentSerializer, **ERRORS},
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = IncidentSerializer
    permission_classes = [IncidentPermission]
    filterset_class = IncidentFilter
    search_fields = ["title", "summary"]
    ordering_fields = ["detected_at", "number", "severity__level", "status"]
    queryset = Incident.objects.none()  # schema and permission introspection; see get_queryset

    def get_queryset(self):
        return selectors.incident_detail().order_by("-detected_at", "-id")

    def _incident(self) -> Incident:
        return self.get_object()

    def _respond(self, incident: Incident, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.incident_detail().get(pk=incident.pk)
        return Response(IncidentSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def _input(self, serializer_class):
        s = serializer_class(data=self.request.data, context=self.get_serializer_context())
        s.is_valid(raise_exception=True)
        return s.validated_data

    # --- support view -----------------------------------------------------------------
    def list(self, request, *args, **kwargs):
        if _support_only(request.user):
            page = self.paginate_queryset(selectors.support_queryset())
            rows = [selectors.as_support(incident) for incident in page]
            return self.get_paginated_response(SupportIncidentSerializer(rows, many=True).data)
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        if _support_only(request.user):
            pk = parse_id(kwargs["pk"])
            if pk is None:
                raise Http404
            row = selectors.open_incident_for_support(pk)
            if row is None:
                raise Http404
            return Response(SupportIncidentSerializer(row).data)
        return super().retrieve(request, *args, **kwargs)

    # --- writes -------------------------------------------------------------------------
    def create(self, request, *args, **kwargs):
        data = self._input(DeclareSerializer)
        incident = services.declare_incident(actor=request.user, **data)
        return self._respond(incident, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        incident = self._incident()
        s = IncidentEditSerializer(data=request.data, partial=kwargs.get("partial", False))
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        svc = data.pop("services", None)
        incident = services.update_incident(incident=incident, actor=request.user, services=svc, **data)
        return self._respond(incident)

    # --- transitions -----------------------------------------------------------------------
    @transition_schema("Acknowledge (first acknowledgement only; 409 names who was first)")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        data = self._input(TransitionSerializer)
        return self._respond(
            services.acknowledge(incident=self._incident(), actor=request.user, at=data["at"])
        )

    @transition_schema("Cause identified (investigating -> identified)")
    @action(detail=True, methods=["post"])
    def identify(self, request, pk=None):
        data = self._input(TransitionSerializer)
        return self._respond(services.identify(incident=self._incident(), actor=request.user, **data))

    @transition_schema("Impact mitigated (-> monitoring)")
    @action(detail=True, methods=["post"])
    def mitigate(self, request, pk=None):
        data = self._input(TransitionSerializer)
        return self._respond(services.mitigate(incident=self._incident(), actor=request.user, **data))

    @transition_schema("Resolve (-> resolved)")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = self._input(TransitionSerializer)
        return self._respond(services.resolve(incident=self._incident(), actor=request.user, **data))

    @transition_schema("Reopen (resolved -> investigating)", ReopenSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        data = self._input(ReopenSerializer)
        return self._respond(services.reopen(incident=self._incident(), actor=request.user, **data))

    @transition_schema(
        "Close (resolved -> closed; refused while e.g. a required postmortem is missing)", CloseSerializer
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = self._input(CloseSerializer)
        return self._respond(services.close(incident=self._incident(), actor=request.user, **data))

    @extend_schema(summary="Take command (you become incident commander)", request=None,
                   responses={200: IncidentSerializer, **ERRORS})  # fmt: skip
    @action(detail=True, methods=["post"], url_path="take-command")
    def take_command(self, request, pk=None):
        return self._respond(services.take_command(incident=self._incident(), actor=request.user))

    @transition_schema(
        "Change severity (raising to a paging severity pages on-call)", SeverityChangeSerializer
    )
    @action(detail=True, methods=["post"])
    def severity(self, request, pk=None):
        data = self._input(SeverityChangeSerializer)
        return self._respond(services.change_severity(incident=self._incident(), actor=request.user, **data))

    @transition_schema("Assign a role (commander, comms_lead, scribe; user null clears)", RoleSerializer)
    @action(detail=True, methods=["post"])
    def roles(self, request, pk=None):
        data = self._input(RoleSerializer)
        return self._respond(services.assign_role(incident=self._incident(), actor=request.user, **data))

    @transition_schema("Set the approved customer message", CustomerMessageSerializer)
    @action(detail=True, methods=["post"], url_path="customer-message")
    def customer_message(self, request, pk=None):
        data = self._input(CustomerMessageSerializer)
        return self._respond(
            services.set_customer_message(incident=self._incident(), actor=request.user, **data)
        )

    @transition_schema("Link (or unlink) a runbook used on this incident", RunbookLinkSerializer)
    @action(detail=True, methods=["post"])
    def runbooks(self, request, pk=None):
        data = self._input(RunbookLinkSerializer)
        fn = services.unlink_runbook if data["unlink"] else services.link_runbook
        incident = self._incident()
        fn(incident=incident, runbook=data["runbook"], actor=request.user)
        return self._respond(incident)

    # --- timeline and updates ------------------------------------------------------------------
    @extend_schema(
        methods=["GET"], summary="The incident's timeline, oldest first",
        responses={200: TimelineEventSerializer(many=True), 404: ERRORS[404]},
    )  # fmt: skip
    @extend_schema(
        methods=["POST"], summary="Add a note (optionally back-dated with occurred_at)",
        request=NoteSerializer, responses={201: TimelineEventSerializer, **ERRORS},
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def timeline(self, request, pk=None):
        incident = self._incident()
        if request.method == "POST":
            data = self._input(NoteSerializer)
            event = services.add_note(incident=incident, actor=request.user, **data)
            return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)
        events = selectors.timeline(incident).select_related("related_type")
        return Response(TimelineEventSerializer(events, many=True).data)

    @extend_schema(
        methods=["GET"], summary="Status updates, newest first",
        responses={200: StatusUpdateSerializer(many=True), 404: ERRORS[404]},
    )  # fmt: skip
    @extend_schema(
        methods=["POST"], summary="Post a status update (external ones may replace the customer message)",
        request=PostUpdateSerializer, responses={201: StatusUpdateSerializer, **ERRORS},
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def updates(self, request, pk=None):
        incident = self._incident()
        if request.method == "POST":
            data = self._input(PostUpdateSerializer)
            update = services.post_update(incident=incident, actor=request.user, **data)
            return Response(StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)
        return Response(StatusUpdateSerializer(selectors.updates(incident), many=True).data)

    @extend_schema(
        summary="Timeline as Markdown (for the postmortem)",
        responses={(200, "text/markdown"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path="timeline-markdown", pagination_class=None)
    def timeline_markdown(self, request, pk=None):
        from django.http import HttpResponse

        incident = self._incident()
        return HttpResponse(
            selectors.timeline_markdown(incident), content_type="text/markdown; charset=utf-8"
        )


@extend_schema_view(
    list=extend_schema(summary="The severity guide"),
    retrieve=extend_schema(summary="One severity"),
    update=extend_schema(summary="Edit a severity (engineering managers)"),
    partial_update=extend_schema(summary="Edit some fields of a severity"),
)
class SeverityViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    serializer_class = SeveritySerializer
    queryset = Severity.objects.order_by("level")
    pagination_class = None
    filter_backends = []


router.register("incidents", IncidentViewSet, basename="incident")
router.register("severities", SeverityViewSet, basename="severity")
