"""The filter form the dashboard and the API share: one parser, so the same query string
gives the same numbers in both."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from catalog.models import Service, Team
from incidents.models import Incident
from metrics import selectors

MAX_PERIOD_DAYS = 3 * 366
EARLIEST, LATEST = date(1970, 1, 1), date(9999, 1, 1)


class MetricFilterForm(forms.Form):
    start = forms.DateField(required=False, help_text="First day (inclusive, portal time zone).")
    end = forms.DateField(required=False, help_text="Last day (inclusive).")
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="All teams"
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"), required=False, empty_label="All services"
    )
    severity = forms.TypedChoiceField(
        choices=[("", "All severities")] + [(str(lvl), f"SEV-{lvl}") for lvl in (1, 2, 3, 4)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    detection_source = forms.ChoiceField(
        choices=[("", "All sources"), *Incident.DetectionSource.choices], required=False
    )

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            if data.get(name) and not EARLIEST <= data[name] <= LATEST:
                self.add_error(name, f"Choose a date between {EARLIEST} and {LATEST}.")
                return data
        if self.errors:
            return data
        default_start, default_end = selectors.default_period(timezone.now())
        start = data.get("start") or (
            data["end"] - timedelta(days=selectors.DEFAULT_PERIOD_DAYS - 1)
            if data.get("end")
            else default_start
        )
        end = data.get("end") or max(default_end, start)
        if end < start:
            raise forms.ValidationError({"end": "The end date is before the start date."})
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise forms.ValidationError({"start": f"Choose a period of at most {MAX_PERIOD_DAYS} days."})
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> selectors.Filters:
        """Valid form -> Filters (dates become [start 00:00, end + 1 day 00:00) in TIME_ZONE)."""
        data = self.cleaned_data
        return selectors.Filters(
            start=selectors.day_start(data["start"]),
            end=selectors.day_start(data["end"] + timedelta(days=1)),
            team_id=data["team"].pk if data.get("team") else None,
            service_id=data["service"].pk if data.get("service") else None,
            severity=data.get("severity"),
            detection_source=data.get("detection_source") or None,
        )
