"""The support escalation form (also the validator behind the API, so both agree)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.functional import cached_property

from catalog.models import Service
from escalations import selectors, services
from escalations.models import MAX_CUSTOMERS, MAX_LINKS, Impact
from opsportal.errors import InvalidInput
from opsportal.parsing import parse_id

NOT_SURE = "not-sure"
NEW_REPORT = "new"


class RowChoiceField(forms.ChoiceField):
    """A choice of a database row, validated by the service that uses it: the service reads
    the row under a lock anyway (``submit_escalation`` locks the service,
    ``attach_to_incident`` the incident, which must still be open) and answers with a field
    error. So the choices are queried only to render the form, not to validate each filing.
    Here only the shape is checked: one of ``fixed``, or a row id in ASCII digits (``parse_id``:
    ``"²"`` passes ``str.isdigit()`` but not ``int()``)."""

    def __init__(self, *, fixed: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.fixed = fixed

    def valid_value(self, value) -> bool:
        value = str(value)
        return value in self.fixed or parse_id(value) is not None


class EscalationForm(forms.Form):
    """Field order is the order an agent on the phone needs them."""

    incident = RowChoiceField(
        fixed=(NEW_REPORT,),
        label="Is this one of the open incidents?",
        required=False,
        widget=forms.RadioSelect,
        help_text="Attach the report to an open incident instead of escalating it again.",
    )
    customer = forms.CharField(
        label="Customer or account",
        max_length=services.MAX_SHORT,
        help_text="Account name, id or domain, e.g. acme-corp.",
    )
    contact = forms.CharField(
        label="Contact",
        max_length=services.MAX_SHORT,
        help_text="How engineering can reach the customer: e-mail, phone or ticket number.",
    )
    service = RowChoiceField(
        fixed=(NOT_SURE,),
        label="Affected service",
        required=False,
        help_text='Grouped by owning team. Pick "Not sure" and support triage will route it.',
    )
    summary = forms.CharField(
        label="What the customer sees",
        max_length=services.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Error messages, what they tried, what they expected.",
    )
    impact = forms.ChoiceField(label="Customer impact", choices=Impact.choices, widget=forms.RadioSelect)
    customers_reporting = forms.IntegerField(
        label="Customers reporting it",
        min_value=1,
        max_value=MAX_CUSTOMERS,
        initial=1,
    )
    started_at = forms.DateTimeField(
        label="When it started",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Your local time. Leave empty if the customer does not know.",
    )
    links = forms.CharField(
        label="Links",
        required=False,
        max_length=MAX_LINKS * (services.MAX_URL + 2),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Tickets, screenshots, recordings: one web address per line, at most {MAX_LINKS}.",
    )

    confirm_duplicate = forms.BooleanField(
        required=False,
        label="Yes, file it again: this is a new report, not a duplicate",
    )

    def __init__(self, *args, open_incidents=None, **kwargs):
        super().__init__(*args, **kwargs)
        if open_incidents is not None:
            self.open_incidents = open_incidents
        self.fields["incident"].choices = lambda: (
            [(NEW_REPORT, "No - this is something new")]
            + [(str(i.id), f"{i.reference}: {i.title}") for i in self.open_incidents]
        )
        self.fields["incident"].initial = NEW_REPORT
        self.fields["service"].choices = lambda: [
            ("", "Choose a service..."),
            (NOT_SURE, "Not sure - route to support triage"),
            *[
                (team, [(str(pk), name) for pk, name in group])
                for team, group in selectors.services_by_team()
            ],
        ]
        for name, field in self.fields.items():
            if field.help_text and not isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs.setdefault("aria-describedby", f"id_{name}_help")

    @cached_property
    def open_incidents(self):
        """Queried when the form is rendered (or asked), not when a filing is validated."""
        return selectors.open_incidents()

    @property
    def attaching(self) -> bool:
        value = self.cleaned_data.get("incident") if hasattr(self, "cleaned_data") else None
        return bool(value) and value != NEW_REPORT

    def clean_service(self) -> Service | None:
        """The chosen service, unsaved-looking: the service locks and re-reads the row (a
        service deleted meanwhile becomes a field error there), so no query here."""
        value = self.cleaned_data.get("service")
        if not value or value == NOT_SURE:
            return None
        return Service(pk=parse_id(value))

    def clean_started_at(self):
        value = self.cleaned_data.get("started_at")
        try:
            return services.clean_started_at(value, timezone.now())
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_links(self) -> list[str]:
        lines = (self.cleaned_data.get("links") or "").splitlines()
        try:
            return services.clean_links(lines)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self):
        data = super().clean()
        if "service" in data and "service" not in self.errors and not self.attaching:
            raw = self.data.get("service") if hasattr(self.data, "get") else None
            if data["service"] is None and raw != NOT_SURE:
                self.add_error("service", 'Pick the affected service, or "Not sure".')
        return data

    def duplicate_of(self, now):
        """The recent filing this one may duplicate (same customer and service inside the
        configured window), unless attaching or already confirmed. The support page asks; the
        API does not (an integration files deliberately)."""
        data = self.cleaned_data
        if self.attaching or data.get("confirm_duplicate"):
            return None
        service = data.get("service")
        return selectors.recent_duplicate(
            customer=data.get("customer", ""),
            service_id=service.pk if service is not None else None,
            within_minutes=services.current_settings().duplicate_window_minutes,
            now=now,
        )

    def save(self, *, reporter):
        """File the escalation (or attach it to the chosen incident) through the services.
        A refusal from the service becomes a field error instead of an exception."""
        data = self.cleaned_data
        common = {
            "reporter": reporter,
            "customer": data["customer"],
            "contact": data["contact"],
            "summary": data["summary"],
            "impact": data["impact"],
            "customers_reporting": data["customers_reporting"],
            "started_at": data.get("started_at"),
            "links": data.get("links") or [],
        }
        try:
            if self.attaching:
                return services.attach_to_incident(incident=parse_id(data["incident"]), **common)
            return services.submit_escalation(service=data.get("service"), **common)
        except InvalidInput as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return None
