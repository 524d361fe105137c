"""/api/v1/escalations/: support tools file and list their own escalations.

Creation validates with the same form as /support/escalate/ (one set of rules), counts
against the same per-user rate limit (429 when over) and calls the same services.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import Throttled
from rest_framework.response import Response

from escalations import limits, selectors
from escalations import permissions as escalation_permissions
from escalations.forms import NEW_REPORT, NOT_SURE, EscalationForm
from escalations.models import MAX_CUSTOMERS, MAX_LINKS, Escalation, Impact
from escalations.services import MAX_SHORT, MAX_TEXT, MAX_URL
from opsportal.api.router import router


class CanFile(permissions.BasePermission):
    message = "The escalations API is for support staff and engineers."

    def has_permission(self, request, view):
        return escalation_permissions.can_file(request.user)


class EscalationSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True, allow_null=True, default=None)
    acknowledged_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    resolved_by = serializers.StringRelatedField(read_only=True, allow_null=True)
    incident = serializers.SerializerMethodField()
    incident_customer_message = serializers.SerializerMethodField()

    class Meta:
        model = Escalation
        fields = [
            "id", "reference", "customer", "contact", "service", "service_name", "summary", "impact",
            "customers_reporting", "started_at", "links", "status", "ack_due_at", "acknowledged_by",
            "acknowledged_at", "incident", "incident_customer_message", "resolved_by", "resolved_at", "reply",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_incident(self, obj) -> str | None:
        return obj.incident.reference if obj.incident_id else None

    def get_incident_customer_message(self, obj) -> str:
        return obj.incident.customer_message if obj.incident_id else ""


class EscalationCreateSerializer(serializers.Serializer):
    """Typed request body (the OpenAPI schema); the rules themselves live in EscalationForm."""

    customer = serializers.CharField(max_length=MAX_SHORT)
    contact = serializers.CharField(max_length=MAX_SHORT)
    service = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Service id; null or absent means 'not sure' (support triage).",
    )
    summary = serializers.CharField(max_length=MAX_TEXT, help_text="What the customer sees.")
    impact = serializers.ChoiceField(choices=Impact.choices)
    customers_reporting = serializers.IntegerField(min_value=1, max_value=MAX_CUSTOMERS, default=1)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    links = serializers.ListField(
        child=serializers.CharField(max_length=MAX_URL), max_length=MAX_LINKS, required=False, default=list
    )
    incident = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of an open incident to attach the report to instead."
    )

    def validate(self, attrs):
        started = attrs.get("started_at")
        form = EscalationForm(
            {
                "customer": attrs["customer"],
                "contact": attrs["contact"],
                "service": str(attrs["service"]) if attrs.get("service") is not None else NOT_SURE,
                "summary": attrs["summary"],
                "impact": attrs["impact"],
                "customers_reporting": str(attrs.get("customers_reporting", 1)),
                "started_at": started.isoformat() if started else "",
                "links": "\n".join(attrs.get("links") or []),
                "incident": str(attrs["incident"]) if attrs.get("incident") is not None else NEW_REPORT,
            }
        )
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: [str(e) for e in errors] for field, errors in form.errors.items()}
            )
        self.form = form
        return attrs


class EscalationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Your own escalations (newest first), and filing new ones."""

    serializer_class = EscalationSerializer
    permission_classes = [permissions.IsAuthenticated, CanFile]
    filterset_fields = ["status", "impact", "service"]
    ordering_fields = ["created_at", "ack_due_at"]
    search_fields = ["customer", "summary"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Escalation.objects.none()
        return selectors.own_escalations(self.request.user)

    @extend_schema(
        request=EscalationCreateSerializer,
        responses={
            201: EscalationSerializer,
            429: OpenApiResponse(description="Over the per-user rate limit."),
        },
        description="File an escalation (or attach a report to an open incident with `incident`). "
        "Same validation as /support/escalate/; 429 when over the per-user rate limit.",
    )
    def create(self, request, *args, **kwargs):
        if limits.over_limit(request):
            raise Throttled(detail=limits.LIMIT_MESSAGE)
        incoming = EscalationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        escalation = incoming.form.save(reporter=request.user)
        if escalation is None:
            raise serializers.ValidationError(
                {field: [str(e) for e in errors] for field, errors in incoming.form.errors.items()}
            )
        escalation = selectors.own_escalations(request.user).get(pk=escalation.pk)
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)


router.register("escalations", EscalationViewSet, basename="escalation")
