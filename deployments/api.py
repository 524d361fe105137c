"""/api/v1/deployments/: pipelines report a deploy's start (idempotent on ``client_key``) and
its outcome (``POST .../<id>/finish/``), with an API token (``Authorization: Token ...``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Service
from deployments import services
from deployments.models import PRODUCTION, Deployment
from opsportal.api.fields import AwareDateTimeField
from opsportal.api.permissions import DjangoModelPermissionsWithView
from opsportal.api.router import router
from readiness.models import Release

ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
}


class DeploymentSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(
        many=True, slug_field="slug", queryset=Service.objects.all(), help_text="Service slugs."
    )
    release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(), required=False, allow_null=True, help_text="Its release, if any."
    )
    started_at = AwareDateTimeField(required=False, help_text="Default: now. Not in the future.")
    commit_at = AwareDateTimeField(required=False, allow_null=True, help_text="For lead time for changes.")
    environment = serializers.SlugField(max_length=40, required=False, default=PRODUCTION)
    client_key = serializers.CharField(
        max_length=200,
        help_text="Your idempotency key (e.g. the pipeline run id): a repeat returns the first record.",
    )

    class Meta:
        model = Deployment
        fields = [
            "id", "client_key", "services", "version", "environment", "status", "started_at", "finished_at",
            "rolled_back_at", "commit_sha", "commit_at", "pipeline_url", "triggered_by", "release", "reviewed",
            "rollback_tested", "change_failure", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "status", "finished_at", "rolled_back_at", "reviewed", "rollback_tested", "change_failure", "created_at",
        ]  # fmt: skip
        validators = []  # the key's uniqueness is the service's job (a repeat returns the first record)
        extra_kwargs = {"client_key": {"validators": []}}


class FinishSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[(v, v) for v in Deployment.OUTCOMES])
    finished_at = AwareDateTimeField(
        required=False, help_text="Default: now. Not before the start, not in the future."
    )


class DeploymentPermission(DjangoModelPermissionsWithView):
    """Reads need ``view_deployment``; reporting a start or a finish needs ``add_deployment``."""

    perms_map = {**DjangoModelPermissionsWithView.perms_map, "POST": ["%(app_label)s.add_%(model_name)s"]}


@extend_schema_view(
    list=extend_schema(summary="List deployments (newest first)"),
    retrieve=extend_schema(
        summary="Get a deployment", responses={200: DeploymentSerializer, 404: OpenApiResponse()}
    ),
)
class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [DeploymentPermission]
    serializer_class = DeploymentSerializer
    filterset_fields = ["status", "environment", "change_failure", "release"]
    search_fields = ["version", "client_key", "commit_sha"]
    ordering_fields = ["started_at", "finished_at"]

    def get_queryset(self):
        return Deployment.objects.prefetch_related("services").order_by("-started_at", "-pk")

    @extend_schema(
        summary="Pipeline report: a deploy started (idempotent on client_key)",
        request=DeploymentSerializer,
        responses={
            201: DeploymentSerializer,
            200: OpenApiResponse(
                DeploymentSerializer, description="A repeat of a client_key: the first record."
            ),
            **ERRORS,
        },
    )
    def create(self, request):
        s = DeploymentSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        deployment, created = services.report_start(actor=request.user, **data)
        body = DeploymentSerializer(self.get_queryset().get(pk=deployment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Pipeline report: the deploy finished (succeeded, failed or rolled_back)",
        request=FinishSerializer,
        responses={
            200: DeploymentSerializer,
            **ERRORS,
            409: OpenApiResponse(
                description="Unknown or already finished: `detail` and `status` (its state; null when unknown)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        s = FinishSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            deployment_id = int(pk)
        except (TypeError, ValueError):
            deployment_id = None
        try:
            if deployment_id is None:
                raise services.AlreadyFinished(f"No deployment {pk}.", deployment=None)
            deployment = services.report_finish(
                actor=request.user, deployment=deployment_id, **s.validated_data
            )
        except services.AlreadyFinished as exc:
            d = exc.deployment
            return Response(
                {"detail": exc.message, "status": d.status if d else None},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(DeploymentSerializer(self.get_queryset().get(pk=deployment.pk)).data)


router.register("deployments", DeploymentViewSet, basename="deployment")
