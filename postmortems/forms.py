"""Forms for the postmortem admin (every save goes through postmortems.services)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from incidents.models import Incident
from postmortems.models import REVIEW_CHECKLIST, ActionItem, Postmortem


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class StartPostmortemForm(forms.ModelForm):
    """Pick a resolved or closed incident that has no postmortem yet."""

    class Meta:
        model = Postmortem
        fields = ["incident", "owner", "reviewer"]
        help_texts = {
            "owner": "Who writes it; you, if left empty.",
            "reviewer": "Who approves it; the team's engineering manager if left empty.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incident"].queryset = (
            Incident.objects.exclude(status__in=Incident.OPEN_STATUSES)
            .filter(postmortem__isnull=True)
            .select_related("severity")
            .order_by("-resolved_at", "-id")
        )
        self.fields["incident"].label_from_instance = lambda i: f"{i.reference} {i.severity.label}: {i.title}"
        self.fields["owner"].required = False
        self.fields["owner"].queryset = active_users()
        self.fields["reviewer"].queryset = active_users()

    def validate_unique(self):
        """The service reports a duplicate postmortem as a message."""

    def _post_clean(self):
        """No model validation: the required fields (due time, creator) come from the service."""


class ActionItemInlineForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = [
            "title",
            "owner",
            "team",
            "kind",
            "priority",
            "due_date",
            "status",
            "wont_do_reason",
            "tracker_url",
        ]
        widgets = {
            "wont_do_reason": forms.TextInput(attrs={"size": 24, "placeholder": "why not (for won't do)"})
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:  # absent when the page is read-only (release leads)
            self.fields["owner"].queryset = active_users()

    def clean(self):
        data = super().clean()
        if data.get("status") == ActionItem.Status.WONT_DO and not (data.get("wont_do_reason") or "").strip():
            self.add_error("wont_do_reason", "Say why the item will not be done.")
        return data


class ActionItemForm(ActionItemInlineForm):
    class Meta(ActionItemInlineForm.Meta):
        fields = [
            "title", "description", "owner", "team", "kind", "priority", "due_date", "status", "wont_do_reason",
            "tracker_url",
        ]  # fmt: skip
        widgets = {}


class ApproveForm(forms.Form):
    checklist = forms.MultipleChoiceField(
        choices=REVIEW_CHECKLIST, widget=forms.CheckboxSelectMultiple, label="Review checklist"
    )


class ReturnForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="What needs to change")
