from datetime import UTC, datetime, timedelta

import pytest

from probes.models import Probe
from reminders import services as sweeper
from reminders.models import ReminderLog
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.probes.factories import ProbeFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _tls_probe(expires_at, **kwargs):
    team = TeamFactory(manager=UserFactory(username="edge-lead"), email="edge@example.com")
    return ProbeFactory(
        kind=Probe.Kind.TLS, url="", host="shop.example.com", port=443, service=ServiceFactory(owner_team=team),
        cert_expires_at=expires_at, cert_issuer="Example CA", **kwargs,
    )  # fmt: skip


def _sent():
    return list(ReminderLog.objects.filter(rule="probes.tls_expiring").order_by("sent_at", "recipient_key"))


def test_owner_team_is_told_at_21_7_and_1_days_once_each():
    expires = NOW + timedelta(days=30)
    probe = _tls_probe(expires)
    sweeper.sweep(now=expires - timedelta(days=21, seconds=1))
    assert _sent() == []
    for days in (21, 7, 1):
        sweeper.sweep(now=expires - timedelta(days=days))
        sweeper.sweep(now=expires - timedelta(days=days) + timedelta(hours=1))
    entries = _sent()
    assert [e.stage for e in entries] == [1, 1, 2, 2, 3, 3]  # manager + mailing list each time
    assert {e.recipient_key for e in entries} == {
        f"user:{probe.service.owner_team.manager_id}",
        "edge@example.com",
    }


def test_catch_up_sends_only_the_latest_threshold_and_renewal_restarts():
    expires = NOW + timedelta(days=5)
    probe = _tls_probe(expires)
    sweeper.sweep(now=NOW)  # 5 days left: the 7-day notice, not the 21-day one
    assert {e.stage for e in _sent()} == {2}
    probe.cert_expires_at = NOW + timedelta(days=90)  # renewed
    probe.save()
    sweeper.sweep(now=NOW + timedelta(hours=1))
    assert len(_sent()) == 2


def test_paused_probes_are_not_chased():
    _tls_probe(NOW + timedelta(days=3), state=Probe.State.PAUSED)
    sweeper.sweep(now=NOW)
    assert _sent() == []
