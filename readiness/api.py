"""/api/v1/releases/ (with the gate and transitions) and /api/v1/release-items/."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from accounts.models import User
from catalog.models import Service
from opsportal.api.permissions import DjangoModelPermissionsWithView
from opsportal.api.router import router
from readiness import selectors, services
from readiness.models import ReadinessReview, Release, ReviewItem, Signature

ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
    404: OpenApiResponse(description="No such release."),
    409: OpenApiResponse(description="Not allowed from the current state, or lost a race."),
}


class ReviewItemSerializer(serializers.ModelSerializer):
    release = serializers.IntegerField(source="review.release_id", read_only=True)
    waived_by = serializers.CharField(
        source="waived_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = ReviewItem
        fields = [
            "id", "release", "position", "key", "title", "guidance", "required", "evidence_required",
            "check_key", "state", "evidence_url", "evidence_note", "waiver_reason", "waived_by",
            "check_passed", "check_reasons", "checked_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class SignatureSerializer(serializers.ModelSerializer):
    signer = serializers.CharField(source="signer.username", read_only=True)

    class Meta:
        model = Signature
        fields = [
            "id", "slot", "signer", "signed_at", "content_hash", "invalidated_at", "invalidated_reason",
            "superseded_at", "supersedes",
        ]  # fmt: skip
        read_only_fields = fields


class ReleaseSerializer(serializers.ModelSerializer):
    services = serializers.PrimaryKeyRelatedField(many=True, queryset=Service.objects.all())
    release_lead = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    readiness_percent = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id", "name", "version", "services", "release_lead", "window_start", "window_end",
            "change_summary", "risk", "rollback_plan", "rollback_minutes", "rollback_tested_at",
            "rollback_evidence_url", "rollback_evidence_note", "status", "status_changed_at",
            "readiness_percent", "last_gate_decision", "last_gate_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "status", "status_changed_at", "readiness_percent", "last_gate_decision", "last_gate_at",
            "created_at", "updated_at",
        ]  # fmt: skip
        # uniqueness is the service's job (a 409, not a serializer 400 racing it)
        validators = []

    def get_readiness_percent(self, obj) -> int | None:
        try:
            review = obj.review
        except ReadinessReview.DoesNotExist:
            return None
        return selectors.readiness_percent(review.items.all())


class ReleaseDetailSerializer(ReleaseSerializer):
    items = serializers.SerializerMethodField()
    signatures = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "items", "signatures", "warnings"]

    @extend_schema_field(ReviewItemSerializer(many=True))
    def get_items(self, obj):
        try:
            return ReviewItemSerializer(obj.review.items.all(), many=True).data
        except ReadinessReview.DoesNotExist:
            return []

    @extend_schema_field(SignatureSerializer(many=True))
    def get_signatures(self, obj):
        try:
            return SignatureSerializer(obj.review.signatures.all(), many=True).data
        except ReadinessReview.DoesNotExist:
            return []

    def get_warnings(self, obj) -> list[str]:
        """Who waived what and why, then the window's process risks (as the gate says them)."""
        try:
            items = obj.review.items.select_related("waived_by")
        except ReadinessReview.DoesNotExist:
            items = []
        return selectors.waiver_notes(items) + selectors.window_warnings(obj)


class LastDeploySerializer(serializers.Serializer):
    service = serializers.CharField(help_text="Service slug.")
    deployment = serializers.IntegerField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    status = serializers.CharField(
        allow_null=True, help_text="running, succeeded, failed or rolled_back; null: never deployed."
    )
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class GateBudgetSerializer(serializers.Serializer):
    service = serializers.CharField()
    slo = serializers.CharField()
    slo_id = serializers.IntegerField()
    objective = serializers.FloatField(help_text="Percent, e.g. 99.9.")
    window = serializers.CharField()
    sli = serializers.FloatField(allow_null=True, help_text="Good / total over the window; null: no data.")
    budget_remaining = serializers.FloatField(
        allow_null=True, help_text="Fraction of the error budget left (negative: overspent); null: no data."
    )
    burn_rate_1h = serializers.FloatField(allow_null=True)
    good = serializers.IntegerField()
    total = serializers.IntegerField()


class GateSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["go", "no-go"])
    reasons = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()
    release = serializers.IntegerField()
    status = serializers.CharField()
    last_deploys = LastDeploySerializer(
        many=True, help_text="Each service's last production deploy and its outcome."
    )
    budgets = GateBudgetSerializer(many=True, help_text="Error budgets of the release's services (SLOs).")


class ItemUpdateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ReviewItem.State.choices)
    evidence_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    evidence_note = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    waiver_reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


CHANGE_ACTIONS = {"start_review", "evaluate", "shipped", "rolled_back", "cancel", "sign", "update_state"}


class ReadinessPermission(DjangoModelPermissionsWithView):
    """Model permissions; transitions need ``change_release`` (items ``change_reviewitem``);
    the gate and sign-off need ``view_release`` (services decide who may sign)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, "action", None) in CHANGE_ACTIONS and request.method not in SAFE_METHODS:
            if view.action == "sign":
                return user.has_perm("readiness.view_release")
            if view.action == "update_state":
                return user.has_perm("readiness.change_reviewitem")
            return user.has_perm("readiness.change_release")
        return super().has_permission(request, view)


def _release_queryset():
    return (
        Release.objects.select_related("review")
        .prefetch_related(
            "services",
            Prefetch(
                "review__items", queryset=ReviewItem.objects.select_related("waived_by").order_by("position")
            ),
            Prefetch(
                "review__signatures",
                queryset=Signature.objects.select_related("signer").order_by("signed_at"),
            ),
        )
        .order_by("window_start", "pk")
    )


def transition_schema(summary: str, request=None):
    return extend_schema(summary=summary, request=request, responses={200: ReleaseDetailSerializer, **ERRORS})


@extend_schema_view(
    list=extend_schema(summary="List releases (upcoming first)"),
    retrieve=extend_schema(summary="Get a release with its review items and signatures",
                           responses={200: ReleaseDetailSerializer, 404: ERRORS[404]}),
    create=extend_schema(summary="Plan a release", responses={201: ReleaseSerializer, **ERRORS}),
    update=extend_schema(summary="Change a release (invalidates standing sign-offs)",
                         responses={200: ReleaseSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Change some fields of a release", responses={200: ReleaseSerializer, **ERRORS}),
)  # fmt: skip
class ReleaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [ReadinessPermission]
    filterset_fields = ["status", "risk", "release_lead"]
    search_fields = ["name", "version", "change_summary"]
    ordering_fields = ["window_start", "name", "created_at"]

    def get_queryset(self):
        return _release_queryset()

    def get_serializer_class(self):
        return ReleaseDetailSerializer if self.action == "retrieve" else ReleaseSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        svc = data.pop("services")
        serializer.instance = services.create_release(actor=self.request.user, services=svc, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        svc = data.pop("services", None)
        serializer.instance = services.update_release(
            release=serializer.instance, actor=self.request.user, services=svc, **data
        )

    def _respond(self, release):
        return Response(ReleaseDetailSerializer(_release_queryset().get(pk=release.pk)).data)

    @extend_schema(
        summary="Go / no-go gate for deployment pipelines (token auth)",
        description="Evaluates the review live: required items pass or are waived, automatic checks "
        "pass now, sign-offs complete and valid, and now is inside the deploy window.",
        responses={200: GateSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def gate(self, request, pk=None):
        release = self.get_object()
        result = selectors.gate(release)
        services.record_gate(release=release, result=result)
        return Response(
            {
                "decision": result.decision,
                "reasons": result.reasons,
                "warnings": result.warnings,
                "checked_at": result.checked_at,
                "release": release.pk,
                "status": release.status,
                "last_deploys": result.last_deploys,
                "budgets": result.budgets,
            }
        )

    @transition_schema("Start the readiness review (planned -> in review)")
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        release = self.get_object()
        services.start_review(release=release, actor=request.user)
        return self._respond(release)

    @transition_schema("Re-evaluate the automatic checks now")
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        release = self.get_object()
        services.evaluate_checks(release=release, actor=request.user)
        return self._respond(release)

    @transition_schema("Sign off the review (release lead, or the named manager)")
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        release = self.get_object()
        services.sign(release=release, actor=request.user)
        return self._respond(release)

    @transition_schema("Pipeline report: shipped (approved -> shipped)")
    @action(detail=True, methods=["post"])
    def shipped(self, request, pk=None):
        release = self.get_object()
        return self._respond(services.mark_shipped(release=release, actor=request.user))

    @transition_schema("Pipeline report: rolled back")
    @action(detail=True, methods=["post"], url_path="rolled-back")
    def rolled_back(self, request, pk=None):
        release = self.get_object()
        return self._respond(services.mark_rolled_back(release=release, actor=request.user))

    @transition_schema("Cancel the release")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        release = self.get_object()
        return self._respond(services.cancel(release=release, actor=request.user))


@extend_schema_view(
    list=extend_schema(summary="List review items (filter by release)"),
    retrieve=extend_schema(summary="Get a review item"),
)
class ReviewItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [ReadinessPermission]
    serializer_class = ReviewItemSerializer
    filterset_fields = {"review__release": ["exact"], "state": ["exact"]}

    def get_queryset(self):
        return ReviewItem.objects.select_related("review", "waived_by").order_by("review_id", "position")

    @extend_schema(
        summary="Mark an item pass / fail / pending / waived, with evidence",
        request=ItemUpdateSerializer,
        responses={200: ReviewItemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="update-state")
    def update_state(self, request, pk=None):
        item = self.get_object()
        s = ItemUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        updated = services.update_item(item=item, actor=request.user, **s.validated_data)
        return Response(ReviewItemSerializer(self.get_queryset().get(pk=updated.pk)).data)


router.register("releases", ReleaseViewSet, basename="release")
router.register("release-items", ReviewItemViewSet, basename="release-item")
