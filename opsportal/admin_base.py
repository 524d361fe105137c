"""The one base for every model admin: writes go through services, refusals become messages.

The admin is the main UI, so it must answer exactly what the API answers. Every registered
``ModelAdmin`` derives from :class:`ServiceModelAdmin` (models without change history) or
:class:`ServiceHistoryAdmin` (models tracked by django-simple-history), and
``tests/opsportal/test_admin_writes.py`` fails the suite for one that does not.

Writes
    A subclass allows a kind of write only by implementing its hook, which calls the app's
    service; without the hook the admin is read-only for that kind of write (the matching
    ``has_*_permission`` answers False whatever the role holds):

    - ``create_object(request, form, formsets) -> obj`` (the add form),
    - ``update_object(request, obj, form, formsets) -> obj`` (the change form, and
      ``list_editable`` rows; ``obj`` carries the form's values, ``self.changes(form)`` the
      fields that changed),
    - ``delete_object(request, obj)`` (the delete page and the bulk delete action).

    ``save_model``, ``save_related``, ``save_formset``, ``delete_model`` and ``delete_queryset``
    belong to this base: Django calls them, they call the hooks, once the main form AND every
    inline formset are valid (so a service receives the whole object - a policy with its
    levels - in one call and one transaction). Subclasses never override them.

Refusals
    A :class:`~opsportal.errors.ServiceError` (or a protected/restricted delete) raised by a
    hook, an action or a custom admin view is mapped here, once: the add/change form is shown
    again with the posted values and the service's message on the field it names (nothing is
    written: the request's transaction is rolled back); deletes, actions and list edits go back
    with the message. Custom views call :meth:`run_service`; actions use :meth:`for_each`.

History
    django-simple-history's pages apply the same row visibility as the change page
    (``get_queryset``) and the view permission; "revert" is disabled (a revert would write
    around the services), and ``secret_fields`` are masked in the change list of a history page
    and on a historical version's page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from django import http
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, ProtectedError, RestrictedError
from django.http import HttpResponseRedirect
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper
from simple_history.utils import get_history_model_for_model

from opsportal.errors import Conflict, ServiceError

MASK = "•••••• (hidden)"

# The methods Django calls to write; the base owns them (see the module docstring).
WRITE_METHODS = ("save_model", "save_related", "save_formset", "delete_model", "delete_queryset")
HOOKS = ("create_object", "update_object", "delete_object")


def masked(value):
    """A secret as it may be shown: nothing of it (a mapping keeps its keys)."""
    if isinstance(value, dict):
        return {key: MASK for key in value}
    return MASK if value else value


def protected_message(exc: ProtectedError | RestrictedError, verb: str = "delete") -> str:
    objs = list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
    shown = ", ".join(f"{o._meta.verbose_name} “{o}”" for o in objs[:5])
    more = f" and {len(objs) - 5} more" if len(objs) > 5 else ""
    return f"Cannot {verb}: still referenced by {shown}{more}."


def as_service_error(exc: Exception) -> ServiceError:
    if isinstance(exc, ServiceError):
        return exc
    return Conflict(protected_message(exc))


REFUSALS = (ServiceError, ProtectedError, RestrictedError)


class _Refused(Exception):
    """Carries a refusal out of Django's atomic block so the block rolls back."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


def _describe_for_log(formset) -> None:
    """What Django's admin log reads from a saved formset (``construct_change_message``)."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.forms:
        if not getattr(form, "cleaned_data", None):
            continue
        if formset.can_delete and formset._should_delete_form(form):
            if form.instance.pk is not None:
                formset.deleted_objects.append(form.instance)
        elif form.instance.pk is None and form.has_changed():
            formset.new_objects.append(form.instance)
        elif form.has_changed():
            formset.changed_objects.append((form.instance, form.changed_data))


class _MaskingContextHelper(HistoricalRecordContextHelper):
    def __init__(self, model, record, *, secret_fields: Iterable[str]) -> None:
        super().__init__(model, record)
        self.secret_fields = frozenset(secret_fields)

    def format_delta_change(self, change):
        formatted = super().format_delta_change(change)
        if change.field in self.secret_fields:
            return dataclasses.replace(formatted, old=MASK, new=MASK)
        return formatted


class ServiceAdminMixin:
    """See the module docstring. Mixed into ``ModelAdmin`` / ``SimpleHistoryAdmin`` below."""

    #: Fields whose values are secrets: never shown back, in history included.
    secret_fields: tuple[str, ...] = ()

    # --- hooks (subclasses implement the writes they allow) ----------------------------
    def create_object(self, request, form, formsets) -> Model:
        raise NotImplementedError

    def update_object(self, request, obj, form, formsets) -> Model:
        raise NotImplementedError

    def delete_object(self, request, obj) -> None:
        raise NotImplementedError

    @classmethod
    def implements(cls, hook: str) -> bool:
        return getattr(cls, hook) is not getattr(ServiceAdminMixin, hook)

    # --- permissions follow the hooks --------------------------------------------------
    def has_add_permission(self, request, *args, **kwargs):
        return self.implements("create_object") and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return self.implements("update_object") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.implements("delete_object") and super().has_delete_permission(request, obj)

    # --- helpers for hooks -------------------------------------------------------------
    @staticmethod
    def changes(form) -> dict[str, Any]:
        """The cleaned values of the fields the form changed."""
        return {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}

    @staticmethod
    def values(form, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The cleaned values of ``names`` (default: every field of the form)."""
        data = form.cleaned_data
        return {n: data[n] for n in (names if names is not None else data) if n in data}

    @staticmethod
    def inline_rows(request, formset) -> tuple[list[dict[str, Any]], list[Model]]:
        """An inline formset as data for a service: the cleaned values of every row kept
        (with ``"id"``: the existing row, or None for a new one) and the rows marked for
        deletion."""
        getattr(request, "_service_formsets_read", set()).add(id(formset))
        fk = getattr(formset, "fk", None)
        skip = {"DELETE", "id", fk.name if fk is not None else "DELETE"}
        kept, deleted = [], []
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data:
                continue
            if formset.can_delete and formset._should_delete_form(form):
                if form.instance.pk is not None:
                    deleted.append(form.instance)
                continue
            row = {k: v for k, v in data.items() if k not in skip}
            row["id"] = form.instance.pk
            kept.append(row)
        return kept, deleted

    # --- the write methods Django calls (final) -----------------------------------------
    def save_model(self, request, obj, form, change):
        """Nothing is written here: ``save_related`` calls the service once the inline
        formsets are valid too."""

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        request._service_formsets_read = set()
        if change:
            result = self.update_object(request, obj, form, formsets)
        else:
            result = self.create_object(request, form, formsets)
        for formset in formsets:
            _describe_for_log(formset)
            if formset.has_changed() and id(formset) not in request._service_formsets_read:
                raise NotImplementedError(
                    f"{type(self).__name__} dropped the changes of its {formset.prefix} inline: "
                    "read them with self.inline_rows(request, formset) and hand them to the service"
                )
        if result is not None and result is not obj:
            obj.pk = result.pk
            obj._state.adding = False
            obj.refresh_from_db()
        elif obj.pk is not None:
            obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        raise NotImplementedError("inline formsets are handed to the service by save_related")

    def delete_model(self, request, obj):
        self.delete_object(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_object(request, obj)

    # --- refusals ---------------------------------------------------------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._refusing(super().changeform_view, request, object_id, form_url, extra_context)
        except _Refused as refused:
            if request.method != "POST" or getattr(request, "_service_refusal", None) is not None:
                self.message_user(request, refused.error.message, messages.ERROR)
                opts = self.model._meta
                return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
            # Show the form again, bound to what was posted, with the service's message.
            request._service_refusal = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        error = getattr(request, "_service_refusal", None)
        if error is None:
            return form

        class RefusedForm(form):
            def _post_clean(self):
                super()._post_clean()
                field = error.field if error.field in self.fields else None
                message = error.message if field or not error.field else f"{error.field}: {error.message}"
                self.add_error(field, message)

        RefusedForm.__name__ = form.__name__
        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return self._refusing(super().delete_view, request, object_id, extra_context)
        except _Refused as refused:
            self.message_user(request, refused.error.message, messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def changelist_view(self, request, extra_context=None):
        try:
            return self._refusing(super().changelist_view, request, extra_context)
        except _Refused as refused:
            self.message_user(request, refused.error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @staticmethod
    def _refusing(view, request, *args):
        """Run an admin view; a refusal rolls back everything the request wrote (GETs write
        nothing, so they are not wrapped: no savepoint on every page view)."""
        try:
            if request.method in ("GET", "HEAD"):
                return view(request, *args)
            with transaction.atomic():
                return view(request, *args)
        except REFUSALS as exc:
            raise _Refused(as_service_error(exc)) from exc

    def run_service(
        self,
        request,
        fn: Callable[..., Any],
        /,
        *args,
        success: str | None = None,
        failure: str = "{error}",
        **kwargs,
    ):
        """Call a service from a custom admin view: ``(True, result)``, or ``(False, None)``
        with the refusal shown as an error message (``failure`` formatted with ``error``) and
        nothing written."""
        try:
            with transaction.atomic():
                result = fn(*args, **kwargs)
        except REFUSALS as exc:
            self.message_user(request, failure.format(error=as_service_error(exc).message), messages.ERROR)
            return False, None
        if success:
            self.message_user(request, success, messages.SUCCESS)
        return True, result

    def for_each(
        self,
        request,
        queryset,
        fn: Callable[[Any], Any],
        *,
        done: str,
        label: Callable[[Any], str] = str,
    ) -> int:
        """Run ``fn(obj)`` (a service call) for each selected object, each in its own
        transaction; one success message (``done`` formatted with ``n`` and ``labels``) and one
        error message per refusal, naming the object. Returns how many succeeded."""
        succeeded: list[str] = []
        for obj in queryset:
            try:
                with transaction.atomic():
                    fn(obj)
            except REFUSALS as exc:
                self.message_user(request, f"{label(obj)}: {as_service_error(exc).message}", messages.ERROR)
            else:
                succeeded.append(label(obj))
        if succeeded:
            self.message_user(
                request, done.format(n=len(succeeded), labels=", ".join(succeeded)), messages.SUCCESS
            )
        return len(succeeded)

    # --- history ------------------------------------------------------------------------
    def visible_object(self, request, object_id):
        """The object if this person may see it on its change page, else 404."""
        obj = self.get_object(request, unquote(str(object_id)))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            raise http.Http404
        return obj


class ServiceModelAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Base for admins of models without simple-history (Django's own history page is
    already row-filtered: it loads the object through ``get_queryset``)."""


class ServiceHistoryAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Base for admins of models tracked by django-simple-history."""

    def history_view(self, request, object_id, extra_context=None):
        self.visible_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return http.HttpResponseNotAllowed(["GET", "HEAD"])  # revert would bypass the services
        self.visible_object(request, object_id)
        history = get_history_model_for_model(self.model)
        pk_name = self.model._meta.pk.attname
        if not history.objects.filter(
            **{pk_name: unquote(str(object_id)), "history_id": version_id}
        ).exists():
            raise http.Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request, template, context, **kwargs):
        original = context.get("original")
        if original is not None and self.secret_fields:
            for name in self.secret_fields:
                setattr(original, name, masked(getattr(original, name, None)))
            # The form was bound before masking: rebuild it from the masked instance.
            form = self.get_form(request, original)(instance=original)
            context["adminform"] = admin.helpers.AdminForm(
                form,
                self.get_fieldsets(request, original),
                self.prepopulated_fields,
                self.get_readonly_fields(request, original),
                model_admin=self,
            )
        return super().render_history_view(request, template, context, **kwargs)

    def revert_disabled(self, request, obj=None):
        return True

    def get_historical_record_context_helper(self, request, historical_record):
        if not self.secret_fields:
            return super().get_historical_record_context_helper(request, historical_record)
        return _MaskingContextHelper(self.model, historical_record, secret_fields=self.secret_fields)


def require(condition: bool) -> None:
    """Raise 403 in a custom admin view unless ``condition``."""
    if not condition:
        raise PermissionDenied
