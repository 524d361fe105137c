"""/api/v1/api-tokens/: a person's (or machine's) own API tokens - list, create (the key is
in that one response), revoke. Superusers see everyone's and may create one for another
account; nobody can read a key back."""

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import ApiToken, User
from opsportal.api.router import router


class ApiTokenSerializer(serializers.ModelSerializer):
    key_hint = serializers.CharField(
        read_only=True, help_text="The key's first characters, to tell tokens apart; never the key."
    )
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(source="expiry", read_only=True, allow_null=True)

    class Meta:
        model = ApiToken
        fields = [
            "id", "name", "user", "key_hint", "status", "created", "created_by", "expires_at",
            "last_used_at", "revoked_at", "revoked_by",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, obj) -> ApiToken.Status:
        return obj.status_at(timezone.now())


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="The key, for `Authorization: Token <key>`. Only in this response: it is not stored.",
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX_LENGTH, help_text="What uses it and where.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it stops working; omit or null for never."
    )
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        help_text="Superusers only: the account the token acts as (default: yourself).",
    )


class ApiTokenErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors)."),
    403: OpenApiResponse(ApiTokenErrorSerializer, description="Not allowed for this user."),
}
STATUS_FILTER = OpenApiParameter(
    "status", OpenApiTypes.STR, enum=ApiToken.Status.values, description="Only tokens in this state."
)


@extend_schema_view(
    list=extend_schema(summary="List your API tokens", parameters=[STATUS_FILTER]),
    retrieve=extend_schema(summary="Get one of your API tokens"),
    create=extend_schema(
        summary="Create an API token",
        description="The answer carries the key in `token`, once; only its hash is stored.",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer, **ERRORS},
    ),
    revoke=extend_schema(
        summary="Revoke an API token",
        description="It stops working at once; the token stays listed as revoked.",
        request=None,
        responses={
            200: ApiTokenSerializer,
            403: ERRORS[403],
            409: OpenApiResponse(ApiTokenErrorSerializer, description="Already revoked."),
        },
    ),
)
class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = ApiTokenSerializer
    search_fields = ["name"]
    ordering_fields = ["created", "last_used_at", "expiry", "name"]

    def get_queryset(self):
        tokens = selectors.tokens_visible_to(self.request.user)
        wanted = self.request.query_params.get("status")
        now = timezone.now()
        if wanted == ApiToken.Status.ACTIVE:
            tokens = tokens.filter(Q(expiry__isnull=True) | Q(expiry__gt=now), revoked_at__isnull=True)
        elif wanted == ApiToken.Status.EXPIRED:
            tokens = tokens.filter(revoked_at__isnull=True, expiry__lte=now)
        elif wanted == ApiToken.Status.REVOKED:
            tokens = tokens.filter(revoked_at__isnull=False)
        return tokens

    def create(self, request, *args, **kwargs):
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.create_token(
            user=data.validated_data.get("user", request.user),
            actor=request.user,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
        )
        token.token = key
        return Response(
            ApiTokenCreatedSerializer(token).data,
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = services.revoke_token(token=self.get_object(), actor=request.user)
        return Response(ApiTokenSerializer(token).data)


router.register("api-tokens", ApiTokenViewSet, basename="api-token")
