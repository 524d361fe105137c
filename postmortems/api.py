"""/api/v1/postmortems/ and /api/v1/action-items/ (so trackers and scripts can sync).

Writes go through ``postmortems.services``; transitions are ``POST .../<id>/<verb>/``.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Team
from incidents.models import Incident
from opsportal.api.router import router
from opsportal.errors import NotAllowed
from opsportal.links import absolute_url
from postmortems import permissions, selectors, services
from postmortems.models import REVIEW_CHECKLIST_KEYS, SECTION_FIELDS, ActionItem, Postmortem

User = get_user_model()


ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or detail)."),
    403: OpenApiResponse(description="Not allowed for this user."),
    404: OpenApiResponse(description="Not found."),
    409: OpenApiResponse(description="Not allowed from the current state, or lost a race."),
}


# --- postmortems ---------------------------------------------------------------------------
class PostmortemSerializer(serializers.ModelSerializer):
    incident_reference = serializers.CharField(source="incident.reference", read_only=True)
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    severity = serializers.CharField(source="incident.severity.label", read_only=True)
    overdue = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    items_total = serializers.IntegerField(read_only=True)
    items_done = serializers.IntegerField(read_only=True)
    admin_url = serializers.SerializerMethodField()

    class Meta:
        model = Postmortem
        fields = [
            "id", "incident", "incident_reference", "incident_title", "severity", "status", "owner", "team",
            "reviewer", "due_at", "overdue", *SECTION_FIELDS, "review_checklist", "submitted_at", "approved_by",
            "approved_at", "published_by", "published_at", "progress", "items_total", "items_done", "admin_url",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_overdue(self, obj) -> bool:
        return obj.status != Postmortem.Status.PUBLISHED and obj.due_at < timezone.now()

    def get_progress(self, obj) -> int | None:
        return selectors.progress(obj)

    def get_admin_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())


class StartSerializer(serializers.Serializer):
    incident = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all())
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True), required=False)
    reviewer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )


class PostmortemEditSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True), required=False)
    reviewer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    due_at = serializers.DateTimeField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        for name in SECTION_FIELDS:
            fields[name] = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
        return fields


class SubmitSerializer(serializers.Serializer):
    reviewer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )


class ApproveSerializer(serializers.Serializer):
    checklist = serializers.ListField(
        child=serializers.ChoiceField(choices=REVIEW_CHECKLIST_KEYS),
        help_text="Every review checklist key: " + ", ".join(REVIEW_CHECKLIST_KEYS),
    )


class ReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class PostmortemFilter(django_filters.FilterSet):
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Unpublished and past due")
    q = django_filters.CharFilter(method="filter_q", label="Full-text search over incident and sections")

    class Meta:
        model = Postmortem
        fields = ["status", "owner", "team", "incident", "reviewer"]

    def filter_overdue(self, queryset, name, value):
        late = queryset.unpublished().filter(due_at__lt=timezone.now())
        return late if value else queryset.exclude(pk__in=late.values("pk"))

    def filter_q(self, queryset, name, value):
        return selectors.search_postmortems(value, queryset)


@extend_schema_view(
    list=extend_schema(summary="List postmortems"),
    retrieve=extend_schema(
        summary="Get a postmortem", responses={200: PostmortemSerializer, 404: ERRORS[404]}
    ),
    create=extend_schema(
        summary="Start the postmortem of a resolved incident (prefilled from it)",
        request=StartSerializer,
        responses={201: PostmortemSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit sections, owner, reviewer or due time",
        request=PostmortemEditSerializer,
        responses={200: PostmortemSerializer, **ERRORS},
    ),
)
class PostmortemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    serializer_class = PostmortemSerializer
    filterset_class = PostmortemFilter
    ordering_fields = ["due_at", "created_at", "published_at"]
    queryset = Postmortem.objects.none()  # schema and permission introspection; see get_queryset
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.postmortem_list().order_by("-created_at", "-id")

    def _input(self, serializer_class, **kwargs):
        s = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        s.is_valid(raise_exception=True)
        return dict(s.validated_data)

    def _respond(self, pm: Postmortem, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.postmortem_list().get(pk=pm.pk)
        return Response(PostmortemSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        data = self._input(StartSerializer)
        pm = services.start_postmortem(actor=request.user, **data)
        return self._respond(pm, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        pm = self.get_object()
        data = self._input(PostmortemEditSerializer, partial=True)
        pm = services.update_postmortem(postmortem=pm, actor=request.user, **data)
        return self._respond(pm)

    @extend_schema(
        summary="Submit for review (draft -> in review)",
        request=SubmitSerializer,
        responses={200: PostmortemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        data = self._input(SubmitSerializer)
        return self._respond(
            services.submit_for_review(postmortem=self.get_object(), actor=request.user, **data)
        )

    @extend_schema(
        summary="Approve (a reviewer who is not the owner; every checklist item)",
        request=ApproveSerializer,
        responses={200: PostmortemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        pm = self._reviewing()
        data = self._input(ApproveSerializer)
        return self._respond(services.approve(postmortem=pm, actor=request.user, **data))

    @extend_schema(
        summary="Publish an approved postmortem",
        request=None,
        responses={200: PostmortemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._respond(services.publish(postmortem=self.get_object(), actor=request.user))

    @extend_schema(
        summary="Request changes (in review -> draft)",
        request=ReturnSerializer,
        responses={200: PostmortemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        pm = self._reviewing()
        data = self._input(ReturnSerializer)
        return self._respond(services.return_to_draft(postmortem=pm, actor=request.user, **data))

    def _reviewing(self):
        """The postmortem, once the caller is known to be a reviewer: who may is decided
        before what they sent is looked at (a responder gets 403 whatever the body)."""
        pm = self.get_object()
        if not permissions.can_review(self.request.user, pm):
            raise NotAllowed("Only a reviewer (an engineering manager who is not the author) does this.")
        return pm

    @extend_schema(summary="The postmortem as Markdown", responses={(200, "text/markdown"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def markdown(self, request, pk=None):
        pm = self.get_object()
        response = HttpResponse(
            selectors.postmortem_markdown(pm), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{pm.incident.reference}-postmortem.md"'
        return response


# --- action items --------------------------------------------------------------------------
class ActionItemSerializer(serializers.ModelSerializer):
    incident_reference = serializers.CharField(source="postmortem.incident.reference", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id", "postmortem", "incident_reference", "title", "description", "owner", "team", "kind", "priority",
            "due_date", "overdue", "status", "wont_do_reason", "tracker_url", "completed_at", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_overdue(self, obj) -> bool:
        today = self.context.get("today") or services.local_today()
        return obj.is_overdue(today)


class ActionItemCreateSerializer(serializers.Serializer):
    postmortem = serializers.PrimaryKeyRelatedField(queryset=Postmortem.objects.all())
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices, required=False)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices, required=False)
    due_date = serializers.DateField()
    tracker_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class ActionItemEditSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True), required=False)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices, required=False)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices, required=False)
    due_date = serializers.DateField(required=False)
    tracker_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class ItemStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ActionItem.Status.choices)
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="Required for wont_do."
    )


class ActionItemFilter(django_filters.FilterSet):
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Unfinished and past the due date")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    team_slug = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = ActionItem
        fields = ["owner", "team", "status", "kind", "priority", "postmortem"]

    def filter_overdue(self, queryset, name, value):
        today = services.local_today()
        late = queryset.overdue(today)
        return late if value else queryset.exclude(pk__in=late.values("pk"))


@extend_schema_view(
    list=extend_schema(summary="List action items across postmortems"),
    retrieve=extend_schema(
        summary="Get an action item", responses={200: ActionItemSerializer, 404: ERRORS[404]}
    ),
    create=extend_schema(
        summary="Add an action item to a postmortem",
        request=ActionItemCreateSerializer,
        responses={201: ActionItemSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit an action item's details (status has its own endpoint)",
        request=ActionItemEditSerializer,
        responses={200: ActionItemSerializer, **ERRORS},
    ),
)
class ActionItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    serializer_class = ActionItemSerializer
    filterset_class = ActionItemFilter
    search_fields = ["title", "description"]
    ordering_fields = ["due_date", "priority", "created_at", "status"]
    queryset = ActionItem.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.remediation_list().order_by("due_date", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": services.local_today()}

    def _input(self, serializer_class, **kwargs):
        s = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        s.is_valid(raise_exception=True)
        return dict(s.validated_data)

    def _respond(self, item: ActionItem, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.remediation_list().get(pk=item.pk)
        return Response(ActionItemSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        data = self._input(ActionItemCreateSerializer)
        item = services.add_action_item(actor=request.user, **data)
        return self._respond(item, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        data = self._input(ActionItemEditSerializer, partial=True)
        return self._respond(services.update_action_item(item=item, actor=request.user, **data))

    @extend_schema(
        summary="Set the status (open, in_progress, done, wont_do with a reason)",
        request=ItemStatusSerializer,
        responses={200: ActionItemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        data = self._input(ItemStatusSerializer)
        item = services.set_action_item_status(
            item=self.get_object(), actor=request.user, status=data["status"], reason=data.get("reason", "")
        )
        return self._respond(item)


router.register("postmortems", PostmortemViewSet, basename="postmortem")
router.register("action-items", ActionItemViewSet, basename="action-item")
