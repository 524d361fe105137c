"""The periodic-task pages of django-celery-beat, rewired through ``opsportal.services``.

Tasks are declared in code, so the admin neither adds nor deletes them: it switches them on
and off and changes their schedule. Solar and clocked schedules are not used by the portal.
"""

from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from opsportal import services
from opsportal.admin_base import ServiceAdminMixin

for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(ServiceAdminMixin, beat_admin.PeriodicTaskAdmin):
    actions = ["enable_tasks", "disable_tasks"]
    fieldsets = (
        (None, {"fields": ("name", "task", "enabled", "description")}),
        ("Schedule", {"fields": ("interval", "crontab", "crontab_translation", "last_run_at")}),
        ("Execution", {"fields": ("queue", "kwargs"), "classes": ("collapse",)}),
    )
    readonly_fields = ("name", "task", "queue", "kwargs", "last_run_at", "crontab_translation")

    @admin.display(description="Crontab in words")
    def crontab_translation(self, obj):
        return obj.crontab.human_readable if obj.crontab_id else "-"

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = admin.ModelAdmin.form  # the plain form: the fields above, not beat's
        return super().get_form(request, obj, change=change, **kwargs)

    def update_object(self, request, obj, form, formsets):
        changes = self.changes(form)
        schedule = {}
        if "interval" in changes or "crontab" in changes:
            schedule = {
                "interval": form.cleaned_data.get("interval"),
                "crontab": form.cleaned_data.get("crontab"),
            }
        return services.update_periodic_task(
            task=obj,
            actor=request.user,
            enabled=changes.get("enabled"),
            description=changes.get("description"),
            **schedule,
        )

    @admin.action(description="Enable selected tasks", permissions=["change"])
    def enable_tasks(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda task: services.update_periodic_task(task=task, actor=request.user, enabled=True),
            done="Enabled {n} task(s).",
        )

    @admin.action(description="Disable selected tasks", permissions=["change"])
    def disable_tasks(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda task: services.update_periodic_task(task=task, actor=request.user, enabled=False),
            done="Disabled {n} task(s).",
        )


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(ServiceAdminMixin, beat_admin.IntervalScheduleAdmin):
    def create_object(self, request, form, formsets):
        return services.create_interval(actor=request.user, **self.values(form, ["every", "period"]))


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(ServiceAdminMixin, beat_admin.CrontabScheduleAdmin):
    def create_object(self, request, form, formsets):
        return services.create_crontab(actor=request.user, **self.values(form))
