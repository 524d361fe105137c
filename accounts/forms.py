"""Forms of the accounts pages outside the admin."""

from zoneinfo import available_timezones

from django import forms


def _zones() -> list[tuple[str, str]]:
    names = sorted(z for z in available_timezones() if "/" in z or z == "UTC")
    return [(z, z.replace("_", " ")) for z in names]


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    time_zone = forms.ChoiceField(
        choices=_zones,
        help_text="Every time in the portal and the admin is shown in this zone, e.g. 14:02 CET, 12 min ago.",
    )
