"""Admin forms: quick declaration, the incident edit form, status updates and notes.

Forms only validate input; saving goes through ``incidents.services``.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts import roles
from incidents.models import Incident, StatusUpdate
from opsportal.text import validate_no_control_characters


def eligible_people():
    """Who can hold an incident role: active responders, engineering managers, superusers."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[roles.MANAGERS, roles.RESPONDERS]))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class DeclareIncidentForm(forms.ModelForm):
    """Title, severity and one service are enough; the rest can follow."""

    class Meta:
        model = Incident
        fields = ["title", "severity", "services", "summary", "detection_source", "drill"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].required = True
        self.fields["services"].help_text = "The first service's team owns the incident."
        self.fields["severity"].empty_label = None


class IncidentChangeForm(forms.ModelForm):
    ROLE_FIELDS = ("commander", "comms_lead", "scribe")

    class Meta:
        model = Incident
        fields = [
            "title", "summary", "severity", "services", "primary_service", "owning_team", "detection_source",
            "drill", "commander", "comms_lead", "scribe", "customer_impact", "customers_affected",
            "customer_message", "channel_url", "tags", "started_at", "runbooks",
        ]  # fmt: skip
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "customer_impact": forms.Textarea(attrs={"rows": 2}),
            "customer_message": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = eligible_people()
        for name in self.ROLE_FIELDS:
            if name in self.fields:
                self.fields[name].queryset = people
        if "severity" in self.fields:
            self.fields["severity"].empty_label = None

    def clean(self):
        cleaned = super().clean()
        incident = self.instance
        started = cleaned.get("started_at")
        if started is not None and incident.pk:
            probe = Incident(
                started_at=started,
                detected_at=incident.detected_at,
                mitigated_at=incident.mitigated_at,
            )
            for message in probe.timestamp_errors().values():
                self.add_error("started_at", message)
        if (
            incident.pk
            and incident.acknowledged_at
            and "commander" in self.fields
            and not cleaned.get("commander")
        ):
            self.add_error("commander", "An acknowledged incident needs a commander.")
        if incident.pk and incident.status == Incident.Status.CLOSED and "severity" in self.changed_data:
            self.add_error("severity", "A closed incident's severity can no longer change.")
        return cleaned


class StatusUpdateForm(forms.Form):
    audience = forms.ChoiceField(
        choices=StatusUpdate.Audience.choices, initial=StatusUpdate.Audience.INTERNAL
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, validators=[validate_no_control_characters]
    )
    replace_customer_message = forms.BooleanField(
        required=False, label="Also make this the customer message (external updates only)"
    )


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, label="Note")
    occurred_at = forms.DateTimeField(
        required=False,
        label="Happened at",
        help_text="Leave empty for now; set it to reconstruct what happened earlier.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
