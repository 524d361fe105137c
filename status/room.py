"""What the status page adds to the incident room (registered in StatusConfig.ready): whether
customers see the incident, and the form a person uses to publish it (public title and
message; nothing is public before)."""

from __future__ import annotations

from django import forms

from opsportal.text import validate_no_control_characters
from status import permissions, selectors
from status.models import PublicIncident


class PublishForm(forms.Form):
    public_title = forms.CharField(
        max_length=200,
        label="Public title",
        validators=[validate_no_control_characters],
        help_text="What customers read; never the internal title.",
    )
    message = forms.CharField(
        max_length=5000,
        label="Message for customers",
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_control_characters],
        help_text="Also the customer message support uses.",
    )


def panel(incident, request) -> dict | None:
    if not request.user.has_perm("status.view_publicincident"):
        return None
    record = PublicIncident.objects.filter(incident_id=incident.pk).first()
    published = selectors.public_incidents().filter(pk=incident.pk).exists()
    can_publish = permissions.can_publish(request.user) and not incident.drill
    form = None
    if can_publish and not published:
        form = PublishForm(
            initial={
                "public_title": record.public_title if record else "",
                "message": incident.customer_message,
            }
        )
    return {"record": record, "published": published, "form": form, "can_publish": can_publish}
