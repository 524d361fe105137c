import pytest
from django.core.management import call_command
from django.test import override_settings

from chat.models import IncidentChannel, TimelineLink


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_channels_are_idempotent_and_linked():
    call_command("seed_demo")
    counts = (IncidentChannel.objects.count(), TimelineLink.objects.count())
    call_command("seed_demo")
    assert (IncidentChannel.objects.count(), TimelineLink.objects.count()) == counts
    assert counts[0] >= 2
    assert counts[1] == 1
    for channel in IncidentChannel.objects.select_related("incident"):
        assert channel.status == "active"
        # the link is filled in, or a link someone typed is kept and the channel noted on the timeline
        assert channel.incident.timeline.filter(data__chat_channel=channel.url).count() == 1
    link = TimelineLink.objects.get()
    assert link.incident.timeline.filter(data__ts=link.ts, kind="note").count() == 1
