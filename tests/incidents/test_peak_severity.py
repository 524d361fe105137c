"""The postmortem requirement is fixed by the most severe level an incident ever had
(``Incident.peak_severity``): lowering the severity of a resolved SEV-1 does not let it close
without its postmortem, nor move the postmortem's due date."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from incidents import services
from incidents.models import Incident
from opsportal.errors import Conflict, InvalidInput
from tests.incidents.factories import declare, severity

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def postmortem_guard():
    """The postmortems app's close guard (tests/incidents start with none registered)."""
    from postmortems.services import close_guard

    services.register_close_guard(close_guard)
    yield close_guard
    services.unregister_close_guard(close_guard)


def _level(incident) -> tuple[int, int]:
    incident.refresh_from_db()
    return incident.severity.level, incident.peak_severity.level


def test_peak_is_set_at_declare_raised_and_never_lowered(responder):
    incident = declare(actor=responder, level=3)
    assert _level(incident) == (3, 3)
    services.change_severity(incident=incident, actor=responder, severity=2, reason="worse")
    assert _level(incident) == (2, 2)
    services.change_severity(incident=incident, actor=responder, severity=4, reason="contained")
    assert _level(incident) == (4, 2)
    services.change_severity(incident=incident, actor=responder, severity=3)
    assert _level(incident) == (3, 2)
    services.change_severity(incident=incident, actor=responder, severity=1, reason="data loss")
    assert _level(incident) == (1, 1)
    # every change is in the history, the peak included
    assert [h.peak_severity.level for h in incident.history.order_by("history_date")][-1] == 1


def test_peak_cannot_be_edited_directly(responder):
    incident = declare(actor=responder, level=1)
    with pytest.raises(InvalidInput, match="peak_severity"):
        services.update_incident(incident=incident, actor=responder, peak_severity=severity(4))
    assert _level(incident) == (1, 1)


def test_lowering_a_resolved_sev1_does_not_bypass_the_postmortem_api(api_as, responder, postmortem_guard):
    """The reported bypass, through the API: resolve, severity 3, close."""
    incident = declare(actor=responder, level=1)
    api = api_as(responder)
    url = f"/api/v1/incidents/{incident.pk}/"
    assert api.post(url + "resolve/").status_code == 200
    r = api.post(url + "severity/", {"severity": 3, "reason": "not that bad after all"})
    assert r.status_code == 200, r.data
    r = api.post(url + "close/")
    assert r.status_code == 409, r.data
    assert "postmortem" in r.data["detail"]
    assert "SEV-1" in r.data["detail"]
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.RESOLVED
    r = api.get(url)
    assert (r.data["severity"], r.data["peak_severity"], r.data["peak_severity_label"]) == (3, 1, "SEV-1")


def test_close_guard_and_due_date_follow_the_peak(responder, postmortem_guard):
    from postmortems import services as postmortem_services

    with_peak = declare(actor=responder, level=2, detected_at=T0)  # SEV-2: due in 10 business days
    services.resolve(incident=with_peak, actor=responder, at=T0 + timedelta(hours=1))
    services.change_severity(incident=with_peak, actor=responder, severity=3)  # optional, 5 days
    never = declare(actor=responder, level=3, detected_at=T0)
    services.resolve(incident=never, actor=responder, at=T0 + timedelta(hours=1))
    with_peak.refresh_from_db()
    never.refresh_from_db()
    assert postmortem_services.due_at_for(with_peak) == postmortem_services.due_at_for(never) + timedelta(
        days=7
    )
    with pytest.raises(Conflict, match=r"required: it reached SEV-2"):
        services.close(incident=with_peak, actor=responder)
    services.close(incident=never, actor=responder)  # SEV-3 all along: no postmortem needed


def test_peak_raised_on_a_resolved_incident_too(responder, postmortem_guard):
    incident = declare(actor=responder, level=3)
    services.resolve(incident=incident, actor=responder)
    services.change_severity(incident=incident, actor=responder, severity=1, reason="it was data loss")
    with pytest.raises(Conflict, match="postmortem"):
        services.close(incident=incident, actor=responder)


def test_backfill_takes_the_most_severe_level_from_history(responder):
    """The data migration: the most severe level in an incident's history rows, else its
    current severity."""
    from django.apps import apps

    migration = importlib.import_module("incidents.migrations.0005_backfill_peak_severity")
    lowered = declare(actor=responder, level=1)
    services.change_severity(incident=lowered, actor=responder, severity=3)
    raised_then_lowered = declare(actor=responder, level=3)
    services.change_severity(incident=raised_then_lowered, actor=responder, severity=2)
    services.change_severity(incident=raised_then_lowered, actor=responder, severity=4)
    steady = declare(actor=responder, level=4)
    no_history = declare(actor=responder, level=2)
    no_history.history.all().delete()
    # as the rows were before the peak existed (history rows without one)
    for incident in (lowered, raised_then_lowered, steady, no_history):
        Incident.objects.filter(pk=incident.pk).update(peak_severity=incident.severity)
    Incident.history.update(peak_severity=None)

    migration.backfill_peak_severity(apps, None)

    assert _level(lowered) == (3, 1)
    assert _level(raised_then_lowered) == (4, 2)
    assert _level(steady) == (4, 4)
    assert _level(no_history) == (2, 2)
