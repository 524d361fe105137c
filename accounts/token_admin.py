"""Admin for API tokens: each person lists and creates their own (superusers: everyone's);
the key is shown once, on the page that answers the creation, and never again.

Rows are written only by accounts.services (create, revoke): the admin has no edit form
and no delete (a revoked token stays, with who revoked it and when).
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from knox.settings import CONSTANTS

from accounts import selectors, services
from accounts.models import ApiToken, User
from opsportal.admin_base import ServiceModelAdmin
from opsportal.badges import badge
from opsportal.timeutil import localize

STATUS_TONES = {
    ApiToken.Status.ACTIVE: "green",
    ApiToken.Status.EXPIRED: "grey",
    ApiToken.Status.REVOKED: "red",
}


class ApiTokenCreateForm(forms.Form):
    EXPIRY_CHOICES = [
        ("30", "In 30 days"),
        ("90", "In 90 days"),
        ("365", "In a year"),
        ("date", "On a date"),
        ("never", "Never"),
    ]

    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        help_text="Whose powers the token carries: yourself, or a machine account with the role it needs.",
    )
    name = forms.CharField(
        max_length=services.NAME_MAX_LENGTH,
        help_text="What uses the token and where, e.g. 'GitLab CI release gate'.",
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", widget=forms.RadioSelect)
    expires_on = forms.DateField(required=False, widget=AdminDateWidget, label="Expiry date")

    def __init__(self, *args, actor: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields[
            "expires_on"
        ].help_text = f"With 'On a date': the token works until the end of that day ({actor.time_zone})."
        if actor.is_superuser:
            self.fields["user"].initial = actor.pk
        else:
            del self.fields["user"]  # everyone else creates tokens for themselves only

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("expires") == "date" and not cleaned.get("expires_on"):
            self.add_error("expires_on", "Pick the day after which the token stops working.")
        return cleaned

    def expires_at(self):
        choice = self.cleaned_data["expires"]
        if choice == "never":
            return None
        if choice == "date":
            day: date = self.cleaned_data["expires_on"]
            return localize(day + timedelta(days=1), time(0), self.actor.time_zone)
        return timezone.now() + timedelta(days=int(choice))

    def owner(self) -> User:
        return self.cleaned_data.get("user") or self.actor


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ApiToken.Status.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        alive = Q(expiry__isnull=True) | Q(expiry__gt=now)
        if self.value() == ApiToken.Status.ACTIVE:
            return queryset.filter(alive, revoked_at__isnull=True)
        if self.value() == ApiToken.Status.EXPIRED:
            return queryset.filter(revoked_at__isnull=True, expiry__lte=now)
        if self.value() == ApiToken.Status.REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceModelAdmin):
    list_display = [
        "name",
        "user",
        "key_hint",
        "status_badge",
        "created",
        "last_used_at",
        "expiry",
        "revoked_at",
    ]
    list_filter = [TokenStatusFilter]
    search_fields = ["name"]
    actions = ["revoke_selected"]
    fields = [
        "name",
        "user",
        "key_hint",
        "status_badge",
        "created",
        "created_by",
        "expiry",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields

    # Everyone sees only their own tokens (superusers: all), on every page: list, view,
    # history and the revoke page all go through this queryset.
    def get_queryset(self, request):
        return selectors.tokens_visible_to(request.user)

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return [TokenStatusFilter, ("user", admin.RelatedOnlyFieldListFilter)]
        return self.list_filter

    def get_search_fields(self, request):
        return ["name", "user__username"] if request.user.is_superuser else self.search_fields

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if len(term) >= CONSTANTS.TOKEN_KEY_LENGTH:
            # A pasted key (a leak report): find its token by the stored lookup prefix.
            queryset |= self.get_queryset(request).filter(token_key=term[: CONSTANTS.TOKEN_KEY_LENGTH])
        return queryset, may_have_duplicates

    # Adding needs the model permission, which only the staff roles hold; create_token decides
    # the rest. (Asking for the person's roles here would cost every admin page a query: the
    # sidebar asks every ModelAdmin whether to show "Add".) The add page is the token page
    # below (add_view), not a model form: the key is shown once, in the answer. There is no
    # edit (revoke instead) and no delete (revoked tokens stay for the audit trail).
    def has_add_permission(self, request):
        return request.user.has_perm("accounts.add_apitoken")

    def has_revoke_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description="key")
    def key_hint(self, obj):
        return obj.key_hint

    @admin.display(description="status")
    def status_badge(self, obj):
        status = ApiToken.Status(obj.status_at(timezone.now()))
        return badge(status.label, STATUS_TONES[status])

    # --- create: the key is shown on the answer to the POST, and nowhere else ----------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiTokenCreateForm(request.POST or None, actor=request.user)
        if request.method == "POST" and form.is_valid():
            created, result = self.run_service(
                request,
                services.create_token,
                user=form.owner(),
                actor=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
            )
            if created:
                token, key = result
                self.log_addition(request, token, [{"added": {}}])
                return TemplateResponse(
                    request,
                    "admin/accounts/apitoken/created.html",
                    {**self._context(request, token), "key": key, "title": "API token created"},
                )
        context = {
            **self._context(request, None),
            "title": "Create API token",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/accounts/apitoken/add.html", context)

    def _context(self, request, token):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": token,
            "api_root": request.build_absolute_uri("/api/v1/"),
            "has_view_permission": self.has_view_permission(request),
        }

    # --- revoke ------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="{}_{}_revoke".format(*info),
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        token = self.get_object(request, object_id)
        if token is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        self._revoke(request, token)
        return HttpResponseRedirect(reverse("admin:accounts_apitoken_change", args=[token.pk]))

    @admin.action(description="Revoke selected API tokens", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        def revoke(token):
            services.revoke_token(token=token, actor=request.user)
            self.log_change(request, token, "Revoked.")

        done = self.for_each(
            request,
            queryset.filter(revoked_at__isnull=True),
            revoke,
            done="Revoked {n} API token(s). Machines using them are refused from now on.",
        )
        if not done and not queryset.filter(revoked_at__isnull=True).exists():
            messages.warning(request, "No token revoked: the selected tokens were already revoked.")

    def _revoke(self, request, token) -> bool:
        revoked, _ = self.run_service(
            request,
            services.revoke_token,
            token=token,
            actor=request.user,
            success=f"Revoked {token}. Machines using it are refused from now on.",
        )
        if revoked:
            self.log_change(request, token, "Revoked.")
        return revoked

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.revoked_at is None:
            context["revoke_url"] = reverse("admin:accounts_apitoken_revoke", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)
