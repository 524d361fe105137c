from datetime import timedelta

import pytest
from django.utils import timezone

from opsportal.errors import InvalidInput, NotAllowed
from runbooks import services
from runbooks.models import Runbook
from tests.factories import ServiceFactory, TeamFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db


def test_responder_creates_and_edits_a_runbook(responder):
    team = TeamFactory()
    svc = ServiceFactory()
    rb = services.save_runbook(
        actor=responder, title="DNS failover", slug="dns-failover", owner_team=team, services=[svc],
        scenarios="SERVFAIL", mitigation="1. switch",
    )  # fmt: skip
    assert list(rb.services.all()) == [svc]
    assert rb.history.first().history_user == responder
    rb = services.save_runbook(actor=responder, runbook=rb, mitigation="1. switch NS")
    assert Runbook.objects.get(pk=rb.pk).mitigation == "1. switch NS"


@pytest.mark.parametrize("who", ["support_user", "outsider", "release_lead"])
def test_only_responders_and_managers_write(request, who):
    actor = request.getfixturevalue(who)
    rb = RunbookFactory()
    with pytest.raises(NotAllowed):
        services.save_runbook(actor=actor, title="x", slug="x", owner_team=rb.owner_team)
    with pytest.raises(NotAllowed):
        services.save_runbook(actor=actor, runbook=rb, title="changed")
    with pytest.raises(NotAllowed):
        services.mark_reviewed(runbook=rb, actor=actor)
    with pytest.raises(NotAllowed):
        services.record_test(runbook=rb, actor=actor, evidence_note="x")
    with pytest.raises(NotAllowed):
        services.restore_version(runbook=rb, history_id=rb.history.first().history_id, actor=actor)
    assert Runbook.objects.get(pk=rb.pk).title == rb.title


@pytest.mark.parametrize("who", ["manager", "responder", "superuser"])
def test_managers_responders_and_superusers_review_and_test(request, who):
    actor = request.getfixturevalue(who)
    rb = services.mark_reviewed(runbook=RunbookFactory(), actor=actor, note="ok")
    assert rb.reviewed_by == actor
    assert rb.review_note == "ok"
    rb = services.record_test(runbook=rb, actor=actor, evidence_url="https://wiki.example.com/gd")
    assert rb.tested_by == actor
    assert rb.test_evidence_url == "https://wiki.example.com/gd"


def test_invalid_input_is_refused(responder):
    rb = RunbookFactory()
    with pytest.raises(InvalidInput, match="evidence"):
        services.record_test(runbook=rb, actor=responder)
    with pytest.raises(InvalidInput, match="http"):
        services.record_test(runbook=rb, actor=responder, evidence_url="javascript:alert(1)")
    with pytest.raises(InvalidInput, match="future"):
        services.record_test(
            runbook=rb, actor=responder, evidence_note="x", tested_at=timezone.now() + timedelta(hours=1)
        )
    with pytest.raises(InvalidInput, match="future"):
        services.mark_reviewed(runbook=rb, actor=responder, at=timezone.now() + timedelta(hours=1))
    with pytest.raises(InvalidInput):
        services.save_runbook(actor=responder, runbook=rb, review_interval_days=0)
    with pytest.raises(InvalidInput):
        services.save_runbook(actor=responder, runbook=rb, slug="not a slug!")
    with pytest.raises(InvalidInput, match="Not editable"):
        services.save_runbook(actor=responder, runbook=rb, last_tested_at=timezone.now())
    services.mark_reviewed(runbook=rb, actor=responder)
    with pytest.raises(InvalidInput, match="later review"):
        services.mark_reviewed(runbook=rb, actor=responder, at=timezone.now() - timedelta(days=3))


def test_a_test_counts_as_a_review(responder):
    rb = RunbookFactory()
    rb = services.record_test(runbook=rb, actor=responder, evidence_note="game day")
    assert rb.last_reviewed_at == rb.last_tested_at
    assert rb.freshness == Runbook.Freshness.FRESH


def test_restore_brings_back_content_and_services_not_review_records(responder, manager):
    old_service, new_service = ServiceFactory(), ServiceFactory()
    rb = services.save_runbook(
        actor=responder, title="Renew TLS", slug="renew-tls", owner_team=TeamFactory(),
        mitigation="1. tlsctl renew", services=[old_service],
    )  # fmt: skip
    good = rb.history.order_by("-history_id").first()  # includes the services snapshot
    rb = services.save_runbook(
        actor=responder,
        runbook=rb,
        title="Renew TLS (broken)",
        mitigation="1. rm -rf /",
        services=[new_service],
    )
    rb = services.mark_reviewed(runbook=rb, actor=manager, note="reviewed after the bad edit")
    before = rb.history.count()

    restored = services.restore_version(runbook=rb, history_id=good.history_id, actor=manager)

    restored = Runbook.objects.get(pk=rb.pk)
    assert restored.title == "Renew TLS"
    assert restored.mitigation == "1. tlsctl renew"
    assert list(restored.services.all()) == [old_service]
    assert restored.reviewed_by == manager  # review records describe what happened: kept
    assert restored.review_note == "reviewed after the bad edit"
    newest = restored.history.order_by("-history_id")
    assert restored.history.count() > before
    assert any(
        (h.history_change_reason or "").startswith(f"Restored version {good.history_id}") for h in newest[:3]
    )
    assert newest.first().history_user == manager


def test_restore_refuses_a_version_of_another_runbook(responder):
    rb, other = RunbookFactory(), RunbookFactory()
    with pytest.raises(InvalidInput, match="No such version"):
        services.restore_version(runbook=rb, history_id=other.history.first().history_id, actor=responder)
    with pytest.raises(InvalidInput, match="No such version"):
        services.restore_version(runbook=rb, history_id=10**9, actor=responder)


def test_restore_refuses_a_slug_taken_since(responder):
    rb = RunbookFactory(slug="first")
    version = rb.history.first()
    services.save_runbook(actor=responder, runbook=rb, slug="renamed")
    RunbookFactory(slug="first")
    with pytest.raises(InvalidInput, match="address"):
        services.restore_version(runbook=rb, history_id=version.history_id, actor=responder)
