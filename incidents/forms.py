"""Admin forms: quick declaration, the incident edit form, status updates and notes.

Forms only validate input; saving goes through ``incidents.services``.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.html import format_html

from accounts import roles
from incidents.models import Incident, Severity, StatusUpdate
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


class SeverityGuideField(forms.ModelChoiceField):
    """Severity as radio buttons, each with its triage guide beside it (no default: the
    person declaring reads the guide and chooses)."""

    def label_from_instance(self, obj):
        return format_html(
            '<span class="room-sev-choice"><strong>{}</strong> {}'
            '<span class="room-sev-guide">{}</span>'
            '<span class="room-sev-terms">acknowledge within {} &middot; updates every {} &middot; {} '
            "&middot; postmortem {}</span></span>",
            obj.label,
            obj.name,
            obj.description,
            obj.ack_sla_display,
            obj.cadence_display,
            "pages on-call" if obj.pages_oncall else "no page",
            "required" if obj.postmortem_required else "optional",
        )


class DeclareIncidentForm(forms.ModelForm):
    """The short declare form: title, severity (no default), services, what customers see,
    "I am the commander" (on by default) and drill. The rest can follow in the room."""

    severity = SeverityGuideField(
        queryset=Severity.objects.order_by("level"),
        widget=forms.RadioSelect(attrs={"class": "room-sev-radio"}),
        empty_label=None,
        help_text="Read the guide beside each level; when in doubt, pick the more severe one.",
    )
    i_am_commander = forms.BooleanField(
        required=False,
        initial=True,
        label="I am the commander",
        help_text="Untick to leave command for whoever acknowledges first.",
    )
    declared_from = forms.CharField(required=False, widget=forms.HiddenInput, max_length=80)

    class Meta:
        model = Incident
        fields = ["title", "severity", "services", "customer_impact", "summary", "detection_source", "drill"]
        labels = {"customer_impact": "What customers see", "summary": "Notes for responders"}
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 2}),
            "customer_impact": forms.Textarea(attrs={"rows": 2}),
            "detection_source": forms.HiddenInput,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].required = True
        self.fields["services"].help_text = "Type to search. The first service's team owns the incident."
        self.fields[
            "customer_impact"
        ].help_text = "Optional, internal. Nothing reaches the public status page until someone publishes it."
        self.fields["detection_source"].required = False
        self.fields["title"].widget.attrs.setdefault("autofocus", True)

    def clean_detection_source(self):
        return self.cleaned_data.get("detection_source") or Incident.DetectionSource.MANUAL


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
        choices=StatusUpdate.Audience.choices,
        initial=StatusUpdate.Audience.INTERNAL,
        widget=forms.RadioSelect,
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


class ChangeSeverityForm(forms.Form):
    severity = forms.ModelChoiceField(queryset=Severity.objects.order_by("level"), empty_label=None)
    reason = forms.CharField(
        max_length=500,
        validators=[validate_no_control_characters],
        help_text="Recorded on the timeline, e.g. 'EU customers unaffected'.",
    )


class AssignRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(r, r) for r in IncidentChangeForm.ROLE_FIELDS])
    user = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = eligible_people()


class LinkRunbookForm(forms.Form):
    runbook = forms.IntegerField(min_value=1, max_value=2**63 - 1)
