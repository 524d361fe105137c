from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html, format_html_join

from catalog import selectors, services
from catalog.models import Service, ServiceDependency, ServiceLink, Team
from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.badges import badge
from opsportal.db import count_subquery
from opsportal.errors import ServiceError

TIER_TONES = {Service.Tier.TIER_1: "red", Service.Tier.TIER_2: "orange", Service.Tier.TIER_3: "grey"}


@admin.register(Team)
class TeamAdmin(ServiceHistoryAdmin):
    list_display = ["name", "manager", "member_count", "service_count", "chat_channel"]
    list_select_related = ["manager"]
    search_fields = ["name", "slug", "description"]
    list_filter = [("manager", admin.RelatedOnlyFieldListFilter)]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["manager", "members"]
    readonly_fields = ["services_owned", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "manager", "members"]}),
        ("Contact", {"fields": ["email", "chat_channel"]}),
        ("Ownership", {"fields": ["services_owned", "created_at", "updated_at"]}),
    ]

    def create_object(self, request, form, formsets):
        return services.save_team(**self.values(form))

    def update_object(self, request, obj, form, formsets):
        return services.save_team(team=obj, **self.values(form))

    def delete_object(self, request, obj):
        services.delete_team(team=obj, actor=request.user)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=count_subquery(Team.members.through, "team"),
                _services=count_subquery(Service, "owner_team"),
            )
        )

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return obj._members

    @admin.display(description="Services", ordering="_services")
    def service_count(self, obj):
        return obj._services

    @admin.display(description="Services owned")
    def services_owned(self, obj):
        if not obj.pk:
            return "-"
        rows = obj.services.all()
        if not rows:
            return "None yet"
        return format_html_join(", ", '<a href="{}">{}</a>', ((s.get_absolute_url(), s.name) for s in rows))


class DependencyFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        ids = [
            form.cleaned_data["depends_on"].pk
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("depends_on")
        ]
        try:
            services.check_dependencies(self.instance, ids)
        except ServiceError as exc:
            raise ValidationError(exc.message) from exc


class DependencyInline(admin.TabularInline):
    model = ServiceDependency
    fk_name = "service"
    formset = DependencyFormSet
    autocomplete_fields = ["depends_on"]
    extra = 0
    verbose_name = "depends on"
    verbose_name_plural = "Depends on"


class LinkInline(admin.TabularInline):
    model = ServiceLink
    extra = 0


class TierFilter(admin.SimpleListFilter):
    title = "tier"
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return Service.Tier.choices

    def queryset(self, request, queryset):
        return queryset.filter(tier=self.value()) if self.value() else queryset


@admin.register(Service)
class ServiceAdmin(ServiceHistoryAdmin):
    list_display = ["name", "owner_team", "tier_badge", "dependency_count", "dependent_count"]
    list_select_related = ["owner_team"]
    list_filter = [TierFilter, "owner_team"]
    search_fields = ["name", "slug", "description", "owner_team__name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["owner_team"]
    inlines = [DependencyInline, LinkInline]
    readonly_fields = ["blast_radius", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "owner_team", "tier", "description"]}),
        ("Blast radius", {"fields": ["blast_radius"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _deps=count_subquery(ServiceDependency, "service"),
                _dependents=count_subquery(ServiceDependency, "depends_on"),
            )
        )

    @admin.display(description="Tier", ordering="tier")
    def tier_badge(self, obj):
        return badge(
            obj.tier.replace("-", " ").title(), TIER_TONES.get(obj.tier, "grey"), title=obj.get_tier_display()
        )

    @admin.display(description="Depends on", ordering="_deps")
    def dependency_count(self, obj):
        return obj._deps

    @admin.display(description="Depended on by", ordering="_dependents")
    def dependent_count(self, obj):
        return obj._dependents

    @admin.display(description="Services affected when this one fails")
    def blast_radius(self, obj):
        if not obj.pk:
            return "-"
        affected = list(selectors.blast_radius(obj))
        if not affected:
            return "Nothing depends on this service."
        return format_html(
            "{} service(s): {}",
            len(affected),
            format_html_join(
                ", ",
                '<a href="{}">{}</a> <span class="op-muted">({})</span>',
                ((s.get_absolute_url(), s.name, s.owner_team.name) for s in affected),
            ),
        )

    def _save(self, request, obj, form, formsets):
        by_model = {fs.model: fs for fs in formsets}
        fields = {f: v for f, v in self.values(form).items() if f != "dependencies"}
        dependencies = None
        if ServiceDependency in by_model:
            kept, _removed = self.inline_rows(request, by_model[ServiceDependency])
            dependencies = [row["depends_on"] for row in kept if row.get("depends_on")]
        service = services.save_service(service=obj, dependencies=dependencies, **fields)
        if ServiceLink in by_model:
            kept, removed = self.inline_rows(request, by_model[ServiceLink])
            services.set_links(service=service, rows=kept, removed=removed)
        return service

    def create_object(self, request, form, formsets):
        return self._save(request, None, form, formsets)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form, formsets)

    def delete_object(self, request, obj):
        services.delete_service(service=obj, actor=request.user)
