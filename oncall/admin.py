from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from notifications.models import Notification
from oncall import permissions, selectors, services, timeline
from oncall.forms import ParticipantFormSet, RotationLayerForm
from oncall.models import (
    WEEKDAYS,
    CalendarFeed,
    EscalationLevel,
    EscalationPolicy,
    LayerMember,
    LayerRestriction,
    Override,
    Page,
    PageEvent,
    RotationLayer,
    Schedule,
    ServicePolicy,
)
from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from opsportal.badges import badge
from opsportal.db import count_subquery
from opsportal.timeutil import localize, zone

CALENDAR_DAYS = 28
GAP_WARNING_DAYS = 14


# --- schedules ----------------------------------------------------------------------------


class LayerInline(admin.TabularInline):
    model = RotationLayer
    form = RotationLayerForm
    extra = 0
    show_change_link = True
    fields = [
        "position",
        "name",
        "rotation_length",
        "rotation_unit",
        "start_date",
        "handoff_time",
        "end_at",
        "who",
    ]
    readonly_fields = ["who"]

    @admin.display(description="Participants / restrictions")
    def who(self, obj):
        if not obj.pk:
            return "Save, then edit the layer to add participants."
        people = ", ".join(str(m.user) for m in obj.members.all()) or "nobody yet"
        limits = "; ".join(str(r) for r in obj.restrictions.all())
        return f"{people}" + (f" - only {limits}" if limits else "")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members__user", "restrictions")

    def has_add_permission(self, request, obj=None):
        return False  # a layer needs its participants: added on the layer page (link below the inline)


class QuickOverrideForm(forms.Form):
    user = forms.ModelChoiceField(queryset=None, label="Who")
    start = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, schedule, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.schedule = schedule
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["start"].help_text = f"Local time in {schedule.time_zone}"

    def _local(self, value):
        # datetime-local has no zone: read it in the schedule's zone with the portal's DST rules.
        if value is None:
            return None
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return localize(naive.date(), naive.time(), self.schedule.time_zone)

    def clean(self):
        data = super().clean()
        data["start"], data["end"] = self._local(data.get("start")), self._local(data.get("end"))
        return data


def _tonight(schedule, now):
    """Defaults for "I'll take tonight": today 18:00 to tomorrow 09:00, schedule time."""
    z = zone(schedule.time_zone)
    today = now.astimezone(z).date()
    return (
        datetime.combine(today, time(18)).strftime("%Y-%m-%dT%H:%M"),
        datetime.combine(today + timedelta(days=1), time(9)).strftime("%Y-%m-%dT%H:%M"),
    )


@admin.register(Schedule)
class ScheduleAdmin(ServiceHistoryAdmin):
    list_display = ["name", "team", "time_zone", "on_call_now", "next_on_call", "layer_count"]
    list_select_related = ["team"]
    list_filter = ["team"]
    search_fields = ["name", "team__name"]
    autocomplete_fields = ["team"]
    inlines = [LayerInline]
    change_form_template = "admin/oncall/schedule/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_layers=count_subquery(RotationLayer, "schedule"))

    def get_changelist_instance(self, request):
        cl = super().get_changelist_instance(request)
        # One bounded batch for the whole page instead of a computation per row.
        answers = selectors.on_call([s.pk for s in cl.result_list], with_next=True)
        for schedule in cl.result_list:
            schedule._on_call = answers.get(schedule.pk)
        return cl

    def _answer(self, obj):
        if not hasattr(obj, "_on_call"):
            obj._on_call = selectors.on_call([obj.pk], with_next=True).get(obj.pk)
        return obj._on_call

    @admin.display(description="On call now")
    def on_call_now(self, obj):
        answer = self._answer(obj)
        if answer is None or answer.user is None:
            return badge("Nobody", "red", title="Gap: nobody is on call right now")
        tz = zone(obj.time_zone)
        return format_html(
            "{} <span class='op-muted'>until {}</span>",
            answer.user,
            answer.shift.end.astimezone(tz).strftime("%a %H:%M"),
        )

    @admin.display(description="Next")
    def next_on_call(self, obj):
        answer = self._answer(obj)
        if answer is None or answer.next_user is None:
            return "-"
        tz = zone(obj.time_zone)
        return format_html(
            "{} <span class='op-muted'>from {}</span>",
            answer.next_user,
            answer.next_shift.start.astimezone(tz).strftime("%a %d %b %H:%M"),
        )

    @admin.display(description="Layers", ordering="_layers")
    def layer_count(self, obj):
        return obj._layers

    def get_urls(self):
        return [
            path(
                "<int:pk>/override/",
                self.admin_site.admin_view(self.quick_override),
                name="oncall_schedule_quick_override",
            ),
            *super().get_urls(),
        ]

    def quick_override(self, request, pk):
        schedule = get_object_or_404(self.get_queryset(request).select_related("team"), pk=pk)
        if request.method != "POST":
            return redirect(reverse("admin:oncall_schedule_change", args=[pk]))
        if not request.user.has_perm("oncall.add_override"):
            raise PermissionDenied
        form = QuickOverrideForm(request.POST, schedule=schedule)
        if not form.is_valid():
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            messages.error(request, f"Override not added - {errors}")
        else:
            d = form.cleaned_data
            self.run_service(
                request, services.create_override, schedule=schedule, user=d["user"], start=d["start"],
                end=d["end"], reason=d["reason"], actor=request.user,
                success=f"{d['user']} is now on call from {d['start']:%Y-%m-%d %H:%M} UTC.",
                failure="Override not added - {error}",
            )  # fmt: skip
        return redirect(reverse("admin:oncall_schedule_change", args=[pk]))

    def _calendar_context(self, request, schedule):
        now = timezone.now()
        z = zone(schedule.time_zone)
        today = now.astimezone(z).date()
        first = today - timedelta(days=today.weekday())  # from this week's Monday
        start, end = timeline.days(first, CALENDAR_DAYS, schedule.time_zone)
        shifts = selectors.final_shifts(schedule, start, end)
        people = selectors.users_by_id(s.user for s in shifts)
        answer = selectors.on_call([schedule.pk], now, with_next=True).get(schedule.pk)
        gaps = [g for g in selectors.gaps(schedule, now, now + timedelta(days=GAP_WARNING_DAYS))]
        f_from, f_to = self._fairness_period(request, today)
        f_start, f_end = timeline.days(f_from, (f_to - f_from).days + 1, schedule.time_zone)
        start_default, end_default = _tonight(schedule, now)
        legend = sorted({(people.get(s.user), s.user) for s in shifts}, key=lambda p: str(p[0]))
        rows = timeline.build(shifts, people, schedule.time_zone, first, CALENDAR_DAYS, today)
        return {
            "calendar": rows,
            "legend": [
                (p, next(b.color for r in rows for b in r.bars if b.label == str(p))) for p, _ in legend if p
            ],
            "on_call": answer,
            "gaps": [(a.astimezone(z), b.astimezone(z)) for a, b in gaps[:10]],
            "gap_days": GAP_WARNING_DAYS,
            "overrides": schedule.overrides.filter(end__gt=now).select_related("user", "covers")[:20],
            "fairness": selectors.fairness(schedule, f_start, f_end),
            "fairness_from": f_from,
            "fairness_to": f_to,
            "quick_form": QuickOverrideForm(
                schedule=schedule,
                initial={"user": request.user.pk, "start": start_default, "end": end_default},
            ),
            "can_override": request.user.has_perm("oncall.add_override"),
            "feeds": selectors.visible_feeds(request.user, schedule.feeds.filter(revoked_at__isnull=True)),
            "tz": schedule.time_zone,
        }

    def _fairness_period(self, request, today):
        try:
            f_from = date.fromisoformat(request.GET.get("fairness_from", ""))
            f_to = date.fromisoformat(request.GET.get("fairness_to", ""))
        except ValueError:
            return today, today + timedelta(days=CALENDAR_DAYS - 1)
        if f_to < f_from or (f_to - f_from).days > 366:
            return today, today + timedelta(days=CALENDAR_DAYS - 1)
        return f_from, f_to

    def change_view(self, request, object_id, form_url="", extra_context=None):
        schedule = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if schedule is not None:
            extra.update(self._calendar_context(request, schedule))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _save(self, request, obj, form, formsets):
        before = services.shift_snapshot(obj) if obj.pk else []
        schedule = services.save_schedule(schedule=obj, actor=request.user, **self.values(form))
        for formset in formsets:
            kept, removed = self.inline_rows(request, formset)
            for layer in removed:
                services.delete_layer(layer=layer, actor=request.user, announce=False)
            for row in kept:
                layer = schedule.layers.filter(pk=row.pop("id")).first() if row.get("id") else None
                services.save_layer(layer=layer, schedule=schedule, actor=request.user, announce=False, **row)
        if before:
            services.announce_shift_changes(schedule=schedule, before=before)
        return schedule

    def create_object(self, request, form, formsets):
        return self._save(request, form.instance, form, formsets)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form, formsets)

    def delete_object(self, request, obj):
        services.delete_schedule(schedule=obj, actor=request.user)


class WeekdaysField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=[(str(n), label) for n, label in WEEKDAYS], **kwargs)


class RestrictionForm(forms.ModelForm):
    weekdays = WeekdaysField()

    class Meta:
        model = LayerRestriction
        fields = ["weekdays", "start_time", "end_time"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["weekdays"] = list(self.instance.weekdays)

    def clean_weekdays(self):
        return "".join(sorted(set(self.cleaned_data["weekdays"])))


class MemberInline(admin.TabularInline):
    model = LayerMember
    formset = ParticipantFormSet
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["position", "user"]


class RestrictionInline(admin.TabularInline):
    model = LayerRestriction
    form = RestrictionForm
    extra = 0


@admin.register(RotationLayer)
class RotationLayerAdmin(ServiceHistoryAdmin):
    form = RotationLayerForm
    list_display = ["__str__", "schedule", "position", "start_date", "handoff_time"]
    list_select_related = ["schedule"]
    list_filter = ["schedule__team"]
    autocomplete_fields = ["schedule"]
    inlines = [MemberInline, RestrictionInline]
    fields = [
        "schedule",
        "name",
        "position",
        "rotation_length",
        "rotation_unit",
        "start_date",
        "handoff_time",
        "end_at",
    ]

    def _save(self, request, obj, form, formsets):
        members = restrictions = None
        for formset in formsets:
            kept, _removed = self.inline_rows(request, formset)
            if formset.model is LayerMember:
                members = [row["user"] for row in sorted(kept, key=lambda r: r.get("position") or 0)]
            elif formset.model is LayerRestriction:
                restrictions = kept
        return services.save_layer(
            layer=obj, actor=request.user, members=members, restrictions=restrictions, **self.values(form)
        )

    def create_object(self, request, form, formsets):
        return self._save(request, None, form, formsets)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form, formsets)

    def delete_object(self, request, obj):
        services.delete_layer(layer=obj, actor=request.user)


class OverrideForm(forms.ModelForm):
    class Meta:
        model = Override
        fields = ["schedule", "user", "covers", "start", "end", "reason"]


class UpcomingFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", "Current and upcoming"), ("past", "Past")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "upcoming":
            return queryset.filter(end__gt=now)
        if self.value() == "past":
            return queryset.filter(end__lte=now)
        return queryset


@admin.register(Override)
class OverrideAdmin(ServiceHistoryAdmin):
    form = OverrideForm
    list_display = ["schedule", "user", "kind_badge", "covers", "start", "end", "reason", "created_by"]
    list_select_related = ["schedule", "user", "covers", "created_by"]
    list_filter = [UpcomingFilter, "kind", "schedule"]
    search_fields = ["reason", "user__username", "schedule__name"]
    autocomplete_fields = ["schedule", "user", "covers"]

    def get_readonly_fields(self, request, obj=None):
        return ["schedule", "user", "covers"] if obj else []

    @admin.display(description="Kind", ordering="kind")
    def kind_badge(self, obj):
        return badge(obj.get_kind_display(), "purple" if obj.kind == Override.Kind.SWAP else "blue")

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or permissions.can_change_override(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or permissions.can_change_override(request.user, obj))

    def create_object(self, request, form, formsets):
        d = form.cleaned_data
        if d.get("covers"):
            return services.swap_shift(
                schedule=d["schedule"], covered=d["covers"], covering=d["user"], start=d["start"], end=d["end"],
                reason=d["reason"], actor=request.user,
            )  # fmt: skip
        return services.create_override(
            schedule=d["schedule"], user=d["user"], start=d["start"], end=d["end"], reason=d["reason"],
            actor=request.user,
        )  # fmt: skip

    def update_object(self, request, obj, form, formsets):
        d = form.cleaned_data
        return services.update_override(
            override=obj, actor=request.user, start=d["start"], end=d["end"], reason=d["reason"]
        )

    def delete_object(self, request, obj):
        services.delete_override(override=obj, actor=request.user)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ServiceModelAdmin):
    """Everyone keeps their own feeds here; a feed URL is a credential, so nobody sees
    anyone else's (managers and superusers included)."""

    list_display = ["__str__", "link", "created_by", "created_at", "revoked_at"]
    list_select_related = ["schedule", "user", "created_by"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    autocomplete_fields = ["schedule", "user"]
    fields = ["schedule", "user", "link", "created_at", "revoked_at"]
    readonly_fields = ["link", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return selectors.visible_feeds(request.user, super().get_queryset(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not permissions.is_manager(request.user) and "user" in form.base_fields:
            from django.contrib.auth import get_user_model

            form.base_fields["user"].queryset = get_user_model().objects.filter(pk=request.user.pk)
        return form

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def create_object(self, request, form, formsets):
        d = form.cleaned_data
        return services.create_feed(schedule=d.get("schedule"), user=d.get("user"), actor=request.user)

    @admin.display(description="iCal URL")
    def link(self, obj):
        if not obj.pk:
            return "Shown after saving."
        if obj.revoked_at:
            return "revoked"
        from opsportal.links import absolute_url

        url = absolute_url(obj.path)
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.action(description="Revoke the selected feeds (their URLs stop working)")
    def revoke(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda feed: services.revoke_feed(feed=feed, actor=request.user),
            done="Revoked {n} feed(s).",
        )


# --- escalation -------------------------------------------------------------------------------


class LevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0
    fields = ["position", "schedules", "include_next_on_call", "users", "delay_minutes"]
    autocomplete_fields = ["schedules", "users"]


class PolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["team", "name", "description", "is_team_default", "repeat"]

    def _get_validation_exclusions(self):
        # A new team default takes over from the old one (services.save_policy demotes it in
        # the same transaction), so "one default per team" is not a form error here.
        exclusions = super()._get_validation_exclusions()
        exclusions.add("is_team_default")
        return exclusions


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ServiceHistoryAdmin):
    form = PolicyForm
    list_display = ["name", "team", "default_badge", "level_count", "repeat", "service_count"]
    list_select_related = ["team"]
    list_filter = ["team", "is_team_default"]
    search_fields = ["name", "team__name"]
    autocomplete_fields = ["team"]
    inlines = [LevelInline]
    readonly_fields = ["who_now"]
    fields = ["team", "name", "description", "is_team_default", "repeat", "who_now"]

    def get_queryset(self, request):
        # Subqueries, not Count() joins: two joined counts would multiply each other.
        return (
            super()
            .get_queryset(request)
            .annotate(
                _levels=count_subquery(EscalationLevel, "policy"),
                _services=count_subquery(ServicePolicy, "policy"),
            )
        )

    def _save(self, request, obj, form, formsets):
        levels = None
        for formset in formsets:
            kept, _removed = self.inline_rows(request, formset)
            levels = sorted(kept, key=lambda row: row.get("position") or 0)
            for row in levels:
                row.pop("id", None)
        return services.save_policy(policy=obj, levels=levels, actor=request.user, **self.values(form))

    def create_object(self, request, form, formsets):
        return self._save(request, None, form, formsets)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form, formsets)

    def delete_object(self, request, obj):
        services.delete_policy(policy=obj, actor=request.user)

    @admin.display(description="Team default", ordering="is_team_default", boolean=False)
    def default_badge(self, obj):
        return badge("default", "green") if obj.is_team_default else "-"

    @admin.display(description="Levels", ordering="_levels")
    def level_count(self, obj):
        return obj._levels

    @admin.display(description="Services (own policy)", ordering="_services")
    def service_count(self, obj):
        return obj._services

    @admin.display(description="Who it would notify now")
    def who_now(self, obj):
        if not obj.pk:
            return "-"
        levels = selectors.resolve_levels(selectors.snapshot(obj)["levels"], timezone.now())
        if not levels:
            return "No levels yet."
        return format_html_join(
            "",
            "<div>Level {}: {} <span class='op-muted'>(then {} min)</span></div>",
            (
                (
                    lv.position,
                    ", ".join(str(u) for u in lv.users) or "nobody - skipped at once",
                    lv.delay_minutes,
                )
                for lv in levels
            ),
        )


@admin.register(ServicePolicy)
class ServicePolicyAdmin(ServiceHistoryAdmin):
    list_display = ["service", "policy", "ack_timeout_minutes"]
    list_select_related = ["service", "policy"]
    autocomplete_fields = ["service", "policy"]

    def create_object(self, request, form, formsets):
        return services.save_service_policy(actor=request.user, **self.values(form))

    def update_object(self, request, obj, form, formsets):
        return services.save_service_policy(service_policy=obj, actor=request.user, **self.values(form))

    def delete_object(self, request, obj):
        services.delete_service_policy(service_policy=obj, actor=request.user)


# --- pages ------------------------------------------------------------------------------------

STATUS_TONES = {
    Page.Status.TRIGGERED: "red",
    Page.Status.EXHAUSTED: "purple",
    Page.Status.ACKNOWLEDGED: "orange",
    Page.Status.RESOLVED: "green",
}


class PageEventInline(admin.TabularInline):
    model = PageEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "level", "user", "note"]
    readonly_fields = fields
    verbose_name_plural = "Trail"

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Page)
class PageAdmin(ServiceModelAdmin):
    """Pages are opened by incidents, escalations and probes, or by hand here ("Page on-call",
    managers and responders: ``permissions.can_open_page``); acknowledged and resolved by the
    actions. Never edited or deleted: the record of who was woken stays."""

    list_display = [
        "title",
        "status_badge",
        "service",
        "level",
        "acknowledged_by",
        "acknowledged_at",
        "created_at",
    ]
    list_select_related = ["service", "acknowledged_by"]
    list_filter = ["status", "service__owner_team"]
    search_fields = ["title", "dedup_key"]
    date_hierarchy = "created_at"
    inlines = [PageEventInline]
    actions = ["acknowledge", "resolve"]
    readonly_fields = [
        "title", "summary", "link", "service", "policy", "status_badge", "level", "round", "next_step_at",
        "acknowledged_by", "acknowledged_at", "acknowledged_via", "resolved_by", "resolved_at", "resolve_reason",
        "dedup_key", "subject_link", "notifications", "created_at",
    ]  # fmt: skip
    add_fields = ["service", "policy", "title", "summary", "url"]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def has_add_permission(self, request):
        return super().has_add_permission(request) and permissions.can_open_page(request.user)

    def create_object(self, request, form, formsets):
        return services.page_by_hand(actor=request.user, **self.values(form, self.add_fields))

    def changelist_view(self, request, extra_context=None):
        exhausted = Page.objects.filter(status=Page.Status.EXHAUSTED).count()
        if exhausted:
            messages.warning(
                request,
                f"{exhausted} page(s) exhausted their escalation policy without anyone acknowledging. "
                "Filter by status 'Exhausted' and act on them.",
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        page = self.get_object(request, object_id)
        if page is not None and page.status == Page.Status.EXHAUSTED:
            messages.warning(request, "Nobody acknowledged this page: every escalation level was tried.")
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="Level")
    def level(self, obj):
        levels = obj.policy_snapshot.get("levels", [])
        if not levels:
            return "-"
        return levels[obj.step % len(levels)]["position"]

    @admin.display(description="Link")
    def link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.url, obj.url) if obj.url else "-"

    @admin.display(description="Subject")
    def subject_link(self, obj):
        subject = obj.subject
        if subject is None:
            return "-"
        url = getattr(subject, "get_absolute_url", lambda: "")()
        return format_html('<a href="{}">{}</a>', url, subject) if url else str(subject)

    @admin.display(description="Notifications sent")
    def notifications(self, obj):
        from django.contrib.contenttypes.models import ContentType

        rows = (
            Notification.objects.filter(
                related_type=ContentType.objects.get_for_model(Page), related_id=str(obj.pk)
            )
            .select_related("recipient")
            .order_by("created_at", "pk")[:200]
        )
        if not rows:
            return "None."
        return format_html(
            "<table><tr><th>When</th><th>To</th><th>Channel</th><th>Status</th><th>Key</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class='op-muted'>{}</td></tr>",
                (
                    (
                        f"{n.created_at:%Y-%m-%d %H:%M:%S}",
                        n.recipient or n.address,
                        n.channel,
                        n.status,
                        n.event_key,
                    )
                    for n in rows
                ),
            ),
        )

    def has_page_permission(self, request):
        return permissions.can_page(request.user)

    @admin.action(description="Acknowledge the selected pages", permissions=["page"])
    def acknowledge(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda page: services.acknowledge_page(page=page, user=request.user, via="admin"),
            done="{labels}: acknowledged.",
        )

    @admin.action(description="Resolve the selected pages", permissions=["page"])
    def resolve(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda page: services.resolve_page(page=page, user=request.user, reason="resolved in the admin"),
            done="{labels}: resolved.",
        )
