"""Admin forms for rotation layers: the service's rules (oncall.services.layer_errors and
participants_error) as field and formset errors, so the admin refuses what the API refuses."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from oncall import services
from oncall.models import RotationLayer


class RotationLayerForm(forms.ModelForm):
    """A layer's dates: in the years 2000-2100, the end after the first handoff."""

    class Meta:
        model = RotationLayer
        fields = [
            "schedule", "name", "position", "rotation_length", "rotation_unit", "start_date", "handoff_time",
            "end_at",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        schedule = data.get("schedule") or (self.instance.schedule if self.instance.schedule_id else None)
        fields = {name: data.get(name) for name in ("start_date", "handoff_time", "end_at") if name in data}
        for field, message in services.layer_errors(
            fields, time_zone=schedule.time_zone if schedule else "UTC"
        ).items():
            if field in self.fields:
                self.add_error(field, message)
        return data


class ParticipantFormSet(forms.BaseInlineFormSet):
    """The participants inline of a layer: someone, and nobody twice in a row (the order is
    the ``position`` column, the last person hands over to the first)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data.get("user") or (self.can_delete and data.get("DELETE")):
                continue
            rows.append((data.get("position") or 0, data["user"]))
        rows.sort(key=lambda row: row[0])
        message = services.participants_error([user for _, user in rows])
        if message:
            raise ValidationError(message)
