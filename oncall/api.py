"""/api/v1/schedules/ (+ shifts, fairness, gaps), /api/v1/schedule-overrides/,
/api/v1/escalation-policies/, /api/v1/oncall/, /api/v1/pages/ (+ acknowledge, resolve),
/api/v1/calendar-feeds/ (+ revoke)."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from catalog.models import Service, Team
from oncall import permissions, selectors, services
from oncall.models import (
    CalendarFeed,
    EscalationLevel,
    EscalationPolicy,
    LayerMember,
    Override,
    Page,
    RotationLayer,
    Schedule,
)
from opsportal.api.fields import AwareDateTimeField
from opsportal.api.params import instant_param, instant_parameter, window_params
from opsportal.api.router import router
from opsportal.errors import InvalidInput, NotAllowed
from opsportal.links import absolute_url
from opsportal.parsing import parse_id

User = get_user_model()
MAX_WINDOW = timedelta(days=366)


def _window(request, default_days: int = 7) -> tuple[datetime, datetime]:
    return window_params(
        request.query_params, now=timezone.now(), default_days=default_days, max_length=MAX_WINDOW
    )


def window_parameters(default_days: int) -> list:
    return [
        instant_parameter("start", "Window start (default now)."),
        instant_parameter(
            "end", f"Window end (default start + {default_days} days; at most 366 days after start)."
        ),
    ]


# --- schedules ------------------------------------------------------------------------------


class RestrictionSerializer(serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), min_length=1)
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()


class LayerSerializer(serializers.ModelSerializer):
    participants = serializers.PrimaryKeyRelatedField(
        many=True, queryset=User.objects.filter(is_active=True), help_text="User ids in rotation order."
    )
    restrictions = RestrictionSerializer(many=True, required=False)
    end_at = AwareDateTimeField(required=False, allow_null=True, help_text="Optional: the layer stops here.")

    class Meta:
        model = RotationLayer
        fields = [
            "id", "name", "position", "rotation_length", "rotation_unit", "start_date", "handoff_time", "end_at",
            "participants", "restrictions",
        ]  # fmt: skip
        extra_kwargs = {"position": {"required": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["participants"] = [m.user_id for m in instance.members.all()]
        data["restrictions"] = [
            {
                "weekdays": sorted(r.weekday_set),
                "start_time": r.start_time.isoformat(),
                "end_time": r.end_time.isoformat(),
            }
            for r in instance.restrictions.all()
        ]
        return data


class ScheduleSerializer(serializers.ModelSerializer):
    layers = LayerSerializer(many=True, required=False)
    team_name = serializers.CharField(source="team.name", read_only=True)
    admin_url = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["id", "team", "team_name", "name", "description", "time_zone", "layers", "admin_url",
                  "created_at", "updated_at"]  # fmt: skip

    def get_admin_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def validate(self, attrs):
        """Each layer's field errors from the service's rules, in DRF's own nested shape
        ({"layers": {index: {field: [message]}}}, as for the layer fields themselves)."""
        if attrs.get("layers"):
            tz = attrs.get("time_zone") or (self.instance.time_zone if self.instance else "UTC")
            errors = {
                i: {field: [message] for field, message in found.items()}
                for i, layer in enumerate(attrs["layers"])
                if (found := services.layer_errors(layer, time_zone=tz))
            }
            if errors:
                raise serializers.ValidationError({"layers": errors})
        return attrs

    def create(self, validated_data):
        layers = validated_data.pop("layers", [])
        return services.save_schedule_definition(
            layers=layers, actor=self.context["request"].user, **validated_data
        )

    def update(self, instance, validated_data):
        layers = validated_data.pop("layers", None)
        return services.save_schedule_definition(
            schedule=instance, layers=layers, actor=self.context["request"].user, **validated_data
        )


class ShiftSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    user = serializers.IntegerField()
    user_name = serializers.CharField()
    is_override = serializers.BooleanField()
    layer = serializers.IntegerField(allow_null=True)
    override = serializers.IntegerField(allow_null=True)
    key = serializers.CharField(help_text="Stable identity of the turn or override (iCal UID part).")


class FairnessSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    user_name = serializers.CharField()
    hours = serializers.FloatField()
    night_hours = serializers.FloatField()
    weekend_hours = serializers.FloatField()
    shifts = serializers.IntegerField()


class GapSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


def shift_rows(shifts, people) -> list[dict]:
    return [
        {
            "start": s.start, "end": s.end, "user": s.user, "user_name": str(people.get(s.user, "")),
            "is_override": s.is_override, "layer": s.layer, "override": s.override, "key": s.key,
        }
        for s in shifts
    ]  # fmt: skip


class ScheduleViewSet(viewsets.ModelViewSet):
    serializer_class = ScheduleSerializer
    filterset_fields = ["team"]
    search_fields = ["name", "team__name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return (
            Schedule.objects.select_related("team")
            .prefetch_related(
                Prefetch(
                    "layers",
                    queryset=RotationLayer.objects.order_by("position", "pk").prefetch_related(
                        Prefetch("members", queryset=LayerMember.objects.order_by("position", "pk")),
                        "restrictions",
                        "participants",  # read by the field; to_representation then orders them
                    ),
                )
            )
            .order_by("team__name", "name")
        )

    def perform_destroy(self, instance):
        if not permissions.can_manage_schedule(self.request.user, instance):
            raise NotAllowed("Only engineering managers delete schedules.")
        instance.delete()

    @extend_schema(parameters=window_parameters(7), responses=ShiftSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def shifts(self, request, pk=None):
        """Final shifts (overrides over layers) over [start, end)."""
        schedule = self.get_object()
        start, end = _window(request)
        shifts = selectors.final_shifts(schedule, start, end)
        return Response(
            ShiftSerializer(shift_rows(shifts, selectors.users_by_id(s.user for s in shifts)), many=True).data
        )

    @extend_schema(parameters=window_parameters(28), responses=FairnessSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def fairness(self, request, pk=None):
        """Hours on call per person over [start, end); nights (22-07) and weekend days apart."""
        schedule = self.get_object()
        start, end = _window(request, default_days=28)
        rows = [
            {"user": r.user.pk, "user_name": str(r.user), "hours": r.hours, "night_hours": r.night_hours,
             "weekend_hours": r.weekend_hours, "shifts": r.shifts}
            for r in selectors.fairness(schedule, start, end) if r.user is not None
        ]  # fmt: skip
        return Response(FairnessSerializer(rows, many=True).data)

    @extend_schema(parameters=window_parameters(14), responses=GapSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def gaps(self, request, pk=None):
        """Stretches of [start, end) with nobody on call."""
        schedule = self.get_object()
        start, end = _window(request, default_days=14)
        holes = selectors.gaps(schedule, start, end)
        return Response(GapSerializer([{"start": a, "end": b} for a, b in holes], many=True).data)


class OverrideSerializer(serializers.ModelSerializer):
    user_name = serializers.CharField(source="user", read_only=True)
    covers_name = serializers.CharField(source="covers", read_only=True, allow_null=True)
    start = AwareDateTimeField()
    end = AwareDateTimeField()

    class Meta:
        model = Override
        fields = ["id", "schedule", "user", "user_name", "covers", "covers_name", "kind", "start", "end", "reason",
                  "created_by", "created_at"]  # fmt: skip
        read_only_fields = ["kind", "created_by", "created_at"]
        extra_kwargs = {"covers": {"help_text": "Set to make it a swap: the person whose shift is covered."}}

    def create(self, validated_data):
        actor = self.context["request"].user
        d = validated_data
        if d.get("covers"):
            return services.swap_shift(
                schedule=d["schedule"], covered=d["covers"], covering=d["user"], start=d["start"], end=d["end"],
                reason=d.get("reason", ""), actor=actor,
            )  # fmt: skip
        return services.create_override(
            schedule=d["schedule"], user=d["user"], start=d["start"], end=d["end"], reason=d.get("reason", ""),
            actor=actor,
        )  # fmt: skip


class OverrideViewSet(
    mixins.CreateModelMixin, mixins.DestroyModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    serializer_class = OverrideSerializer
    filterset_fields = ["schedule", "user", "kind"]
    ordering_fields = ["start", "created_at"]

    def get_queryset(self):
        return Override.objects.select_related("user", "covers", "schedule").order_by("start", "pk")

    def perform_destroy(self, instance):
        services.delete_override(override=instance, actor=self.request.user)


# --- escalation policies --------------------------------------------------------------------


class LevelSerializer(serializers.ModelSerializer):
    schedules = serializers.PrimaryKeyRelatedField(many=True, queryset=Schedule.objects.all(), required=False)
    users = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)

    class Meta:
        model = EscalationLevel
        fields = ["id", "position", "delay_minutes", "schedules", "include_next_on_call", "users"]
        extra_kwargs = {"position": {"required": False}}


class PolicySerializer(serializers.ModelSerializer):
    levels = LevelSerializer(many=True)

    class Meta:
        model = EscalationPolicy
        # The model's constraints are checked by the service (full_clean); DRF would read the
        # partial "one default per team" constraint as plain uniqueness of team.
        validators = []
        fields = [
            "id",
            "team",
            "name",
            "description",
            "repeat",
            "is_team_default",
            "levels",
            "created_at",
            "updated_at",
        ]

    def create(self, validated_data):
        levels = validated_data.pop("levels")
        return services.save_policy(levels=levels, actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        levels = validated_data.pop("levels", None)
        return services.save_policy(
            policy=instance, levels=levels, actor=self.context["request"].user, **validated_data
        )


class PolicyViewSet(viewsets.ModelViewSet):
    serializer_class = PolicySerializer
    filterset_fields = ["team", "is_team_default"]
    search_fields = ["name"]

    def get_queryset(self):
        return (
            EscalationPolicy.objects.select_related("team")
            .prefetch_related(
                Prefetch(
                    "levels",
                    queryset=EscalationLevel.objects.order_by("position").prefetch_related(
                        "schedules", "users"
                    ),
                )
            )
            .order_by("team__name", "name")
        )


# --- who is on call ---------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()


class ScheduleOnCallSerializer(serializers.Serializer):
    schedule = serializers.IntegerField()
    schedule_name = serializers.CharField()
    user = PersonSerializer(allow_null=True)
    until = serializers.DateTimeField(allow_null=True, help_text="End of the shift (at most 2 days ahead).")
    next_user = PersonSerializer(allow_null=True)
    next_from = serializers.DateTimeField(allow_null=True)


class LevelOnCallSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    delay_minutes = serializers.IntegerField()
    users = PersonSerializer(many=True)


@extend_schema_serializer(many=False)  # the list action answers one object, not a list
class OnCallResponseSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    policy = serializers.IntegerField(allow_null=True)
    schedules = ScheduleOnCallSerializer(many=True)
    levels = LevelOnCallSerializer(many=True)


def _person(user):
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": str(user), "email": user.email}


def _schedule_row(schedule, answer):
    return {
        "schedule": schedule.pk,
        "schedule_name": schedule.name,
        "user": _person(answer.user),
        "until": answer.shift.end if answer.shift else None,
        "next_user": _person(answer.next_user),
        "next_from": answer.next_shift.start if answer.next_shift else None,
    }


class OnCallViewSet(viewsets.GenericViewSet):
    """Who is on call now (or at ``at``) for a schedule, a team, or a service (per escalation level)."""

    queryset = Schedule.objects.all()  # permission: oncall.view_schedule
    pagination_class = None
    filter_backends = []

    @extend_schema(
        parameters=[
            OpenApiParameter("service", OpenApiTypes.INT, description="Service id: its policy's levels"),
            OpenApiParameter("team", OpenApiTypes.INT, description="Team id: every schedule of the team"),
            OpenApiParameter("schedule", OpenApiTypes.INT, description="Schedule id"),
            instant_parameter("at", "Instant (default now)."),
        ],
        responses=OnCallResponseSerializer,
    )
    def list(self, request):
        at = instant_param(request.query_params, "at", default=timezone.now())
        params = {
            k: request.query_params.get(k)
            for k in ("service", "team", "schedule")
            if request.query_params.get(k)
        }
        if len(params) != 1:
            raise InvalidInput("Give exactly one of service=, team= or schedule=.")
        ((kind, raw),) = params.items()
        pk = parse_id(raw)
        if pk is None:
            raise InvalidInput(f"{kind} must be an id.", field=kind)
        body = {"at": at, "policy": None, "schedules": [], "levels": []}
        if kind == "service":
            service = Service.objects.filter(pk=pk).first()
            if service is None:
                raise InvalidInput("No such service.", field="service")
            policy, levels = selectors.on_call_for_service(service, at)
            body["policy"] = policy.pk if policy else None
            seen = set()
            for lv in levels:
                body["levels"].append(
                    {
                        "position": lv.position,
                        "delay_minutes": lv.delay_minutes,
                        "users": [_person(u) for u in lv.users],
                    }
                )
                for schedule, answer in lv.schedules:
                    if schedule is not None and schedule.pk not in seen:
                        seen.add(schedule.pk)
                        body["schedules"].append(_schedule_row(schedule, answer))
        else:
            qs = Schedule.objects.filter(**({"team_id": pk} if kind == "team" else {"pk": pk}))
            if kind == "team" and not Team.objects.filter(pk=pk).exists():
                raise InvalidInput("No such team.", field="team")
            schedules = list(qs.order_by("name"))
            if kind == "schedule" and not schedules:
                raise InvalidInput("No such schedule.", field="schedule")
            answers = selectors.on_call([s.pk for s in schedules], at, with_next=True)
            body["schedules"] = [_schedule_row(s, answers[s.pk]) for s in schedules]
        return Response(OnCallResponseSerializer(body).data)


# --- pages ------------------------------------------------------------------------------------


class PageSerializer(serializers.ModelSerializer):
    acknowledged_by_name = serializers.CharField(source="acknowledged_by", read_only=True, allow_null=True)
    ack_timeout_minutes = serializers.IntegerField(
        write_only=True, required=False, min_value=1, allow_null=True
    )
    level = serializers.SerializerMethodField()

    class Meta:
        model = Page
        validators = []  # a repeated dedup_key returns the open page (services.open_page)
        fields = [
            "id", "title", "summary", "url", "service", "policy", "dedup_key", "ack_timeout_minutes", "status",
            "level", "round", "next_step_at", "acknowledged_by", "acknowledged_by_name", "acknowledged_at",
            "acknowledged_via", "resolved_by", "resolved_at", "resolve_reason", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "status", "round", "next_step_at", "acknowledged_by", "acknowledged_at", "acknowledged_via",
            "resolved_by", "resolved_at", "resolve_reason", "created_at",
        ]  # fmt: skip

    def get_level(self, obj) -> int | None:
        levels = obj.policy_snapshot.get("levels", [])
        return levels[obj.step % len(levels)]["position"] if levels else None

    def create(self, validated_data):
        minutes = validated_data.pop("ack_timeout_minutes", None)
        return services.page_by_hand(
            actor=self.context["request"].user,
            title=validated_data["title"], summary=validated_data.get("summary", ""), url=validated_data.get("url", ""),
            service=validated_data.get("service"), policy=validated_data.get("policy"),
            dedup_key=validated_data["dedup_key"], ack_timeout=timedelta(minutes=minutes) if minutes else None,
        )  # fmt: skip


class ResolveSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class PageViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = PageSerializer
    filterset_fields = ["status", "service", "policy"]
    search_fields = ["title", "dedup_key"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return Page.objects.select_related("acknowledged_by").order_by("-created_at", "-pk")

    def get_permissions(self):
        if self.action in ("acknowledge", "resolve"):
            # Transitions need oncall.change_page (checked below), not add_page as a POST would.
            return [IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(
        request=None,
        responses={
            200: PageSerializer,
            409: OpenApiResponse(description="Someone else acknowledged it first."),
        },
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Stop escalation; 409 when someone else acknowledged first."""
        if not permissions.can_page(request.user):
            raise NotAllowed("You may not acknowledge pages.")
        page = self.get_object()
        page = services.acknowledge_page(page=page, user=request.user, via="api")
        return Response(PageSerializer(page).data, status=status.HTTP_200_OK)

    @extend_schema(
        request=ResolveSerializer,
        responses={200: PageSerializer, 409: OpenApiResponse(description="Already resolved.")},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        if not permissions.can_page(request.user):
            raise NotAllowed("You may not resolve pages.")
        page = self.get_object()
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        page = services.resolve_page(
            page=page, user=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(PageSerializer(page).data)


# --- calendar feeds -------------------------------------------------------------------------


class FeedSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = CalendarFeed
        fields = ["id", "schedule", "user", "url", "created_at", "revoked_at"]
        read_only_fields = ["created_at", "revoked_at"]

    def get_url(self, obj) -> str:
        return absolute_url(obj.path)

    def create(self, validated_data):
        return services.create_feed(
            schedule=validated_data.get("schedule"),
            user=validated_data.get("user"),
            actor=self.context["request"].user,
        )


class FeedViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = FeedSerializer
    filterset_fields = ["schedule", "user"]

    def get_queryset(self):
        qs = CalendarFeed.objects.order_by("-created_at", "-pk")
        if getattr(self, "swagger_fake_view", False):
            return qs
        return selectors.visible_feeds(self.request.user, qs)

    @extend_schema(request=None, responses=FeedSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        feed = services.revoke_feed(feed=self.get_object(), actor=request.user)
        return Response(FeedSerializer(feed).data)


router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("schedule-overrides", OverrideViewSet, basename="schedule-override")
router.register("escalation-policies", PolicyViewSet, basename="escalation-policy")
router.register("oncall", OnCallViewSet, basename="oncall")
router.register("pages", PageViewSet, basename="page")
router.register("calendar-feeds", FeedViewSet, basename="calendar-feed")
