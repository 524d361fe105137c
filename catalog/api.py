"""/api/v1/teams/, /api/v1/services/, /api/v1/service-links/."""

import django_filters
from django.contrib.auth import get_user_model
from rest_framework import serializers, viewsets

from catalog import services
from catalog.models import Service, ServiceLink, Team
from opsportal.api.router import router
from opsportal.db import count_subquery


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, queryset=get_user_model().objects.all(), required=False
    )
    service_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = [
            "id", "name", "slug", "description", "manager", "members", "email", "chat_channel",
            "service_count", "created_at", "updated_at",
        ]  # fmt: skip

    def create(self, validated_data):
        return services.save_team(**validated_data)

    def update(self, instance, validated_data):
        return services.save_team(team=instance, **validated_data)


class ServiceLinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceLink
        fields = ["id", "service", "kind", "title", "url"]


class NestedLinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceLink
        fields = ["id", "kind", "title", "url"]


class ServiceSerializer(serializers.ModelSerializer):
    owner_team_name = serializers.CharField(source="owner_team.name", read_only=True)
    dependencies = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Service.objects.all(), required=False
    )
    links = NestedLinkSerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = [
            "id", "name", "slug", "description", "owner_team", "owner_team_name", "tier",
            "dependencies", "links", "created_at", "updated_at",
        ]  # fmt: skip

    def create(self, validated_data):
        return services.save_service(**validated_data)

    def update(self, instance, validated_data):
        return services.save_service(service=instance, **validated_data)


class ServiceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="owner_team__slug", label="Owner team slug")
    depends_on = django_filters.NumberFilter(field_name="dependencies", label="Depends on service id")

    class Meta:
        model = Service
        fields = ["owner_team", "tier", "team", "depends_on"]


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    filterset_fields = ["manager"]
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return (
            Team.objects.select_related("manager")
            .prefetch_related("members")
            .annotate(service_count=count_subquery(Service, "owner_team"))
            .order_by("name")
        )

    def perform_create(self, serializer):
        super().perform_create(serializer)
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)  # with service_count

    def perform_update(self, serializer):
        super().perform_update(serializer)
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance):
        services.delete_team(team=instance)


class ServiceViewSet(viewsets.ModelViewSet):
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["name", "tier", "created_at"]

    def get_queryset(self):
        return (
            Service.objects.select_related("owner_team")
            .prefetch_related("dependencies", "links")
            .order_by("name")
            .distinct()
        )

    def perform_destroy(self, instance):
        services.delete_service(service=instance)


class ServiceLinkViewSet(viewsets.ModelViewSet):
    serializer_class = ServiceLinkSerializer
    queryset = ServiceLink.objects.order_by("service_id", "kind", "title")
    filterset_fields = ["service", "kind"]


router.register("teams", TeamViewSet, basename="team")
router.register("services", ServiceViewSet, basename="service")
router.register("service-links", ServiceLinkViewSet, basename="service-link")
