"""Concurrent sign-offs on PostgreSQL (real threads), and the sign-off reminder rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from notifications.models import Notification
from opsportal.errors import Conflict
from readiness import reminders, services
from readiness.models import Release, Signature
from reminders.models import ReminderLog
from reminders.registry import EffectiveConfig
from reminders.services import sweep
from tests.concurrency import run_concurrently
from tests.factories import UserFactory
from tests.readiness.factories import complete_manual_items, make_release, ready_world

SIX_HOURLY = EffectiveConfig(enabled=True, interval=timedelta(hours=6), escalate_after=None)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_offs_of_one_slot_make_one_signature():
    world = ready_world()
    leads = [world.lead] + [
        UserFactory(username=f"lead{i}", is_staff=True, roles=[roles.RELEASE_LEADS]) for i in range(5)
    ]
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    results = run_concurrently(
        [lambda u=u: services.sign(release=Release.objects.get(pk=release.pk), actor=u) for u in leads]
    )
    won = [r for r in results if isinstance(r, Signature)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1, results
    assert len(lost) == len(leads) - 1, results
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    assert Signature.objects.filter(review__release=release, invalidated_at__isnull=True).count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_sign_racing_an_item_change_never_leaves_a_stale_valid_signature():
    from readiness import selectors

    world = ready_world()
    release = make_release(world)
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    item = release.review.items.get(key="escalation-path")
    run_concurrently(
        [
            lambda: services.sign(release=Release.objects.get(pk=release.pk), actor=world.lead),
            lambda: services.update_item(item=item, actor=world.lead, state="pass", evidence_note="new text"),
        ]
    )
    release.refresh_from_db()
    review = release.review
    current = selectors.signed_content(release, review.items.all()).digest
    for sig in Signature.objects.filter(review=review, invalidated_at__isnull=True):
        assert sig.content_hash == current


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_slots_signing_while_an_item_changes_stay_consistent(round_):
    """The release lead and the team's manager sign different slots while someone edits an
    item. Whatever the order: one current signature per slot, every standing one covers what
    is stored now, the release is approved exactly when every slot holds, and signing the
    slots that lost restores go (superseded signatures never count)."""
    from readiness import selectors

    world = ready_world()
    release = make_release(world, risk="high")
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.update_item(
        item=release.review.items.get(key="rehearsal"), actor=world.team.manager, state="waived",
        waiver_reason="tabletop held on Monday",
    )  # fmt: skip
    manager = world.team.manager
    item = release.review.items.get(key="escalation-path")
    results = run_concurrently(
        [
            lambda: services.sign(release=Release.objects.get(pk=release.pk), actor=world.lead),
            lambda: services.sign(release=Release.objects.get(pk=release.pk), actor=manager),
            lambda: services.update_item(
                item=item, actor=world.lead, state="pass", evidence_note=f"Escalate to the VP ({round_})."
            ),
        ]
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    release.refresh_from_db()
    review = release.review
    content = selectors.signed_content(release, review.items.all())
    current = list(Signature.objects.filter(review=review, superseded_at__isnull=True))
    assert sorted(s.slot for s in current) == sorted(review.required_slots)
    standing = [s for s in current if s.invalidated_at is None]
    assert all(s.content_hash == content.digest for s in standing)
    missing = selectors.missing_slots(review, content)
    assert (release.status == Release.Status.APPROVED) == (not missing)
    assert (selectors.gate(release).decision == "go") == (not missing)
    while missing:  # the manager waived: the release lead is the second pair of eyes
        slot = missing[0]
        services.sign(release=release, actor=manager if slot.startswith("manager:") else world.lead)
        release.refresh_from_db()
        missing = selectors.missing_slots(
            release.review, selectors.signed_content(release, release.review.items.all())
        )
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    result = selectors.gate(release)
    assert (result.decision, result.reasons) == ("go", [])


@pytest.mark.django_db
def test_signoff_reminder_goes_to_the_release_lead_24h_before_the_window():
    world = ready_world()
    release = make_release(world, start_in=timedelta(hours=20))
    far = make_release(world, start_in=timedelta(hours=30), version="2.0")
    services.start_review(release=release, actor=world.lead)
    (rem,) = reminders.RULES[0].due(now=timezone.now(), config=SIX_HOURLY)
    assert rem.related == release
    assert rem.recipients == [world.lead]
    assert ["Missing sign-off", "release lead"] in rem.context["fields"]
    assert rem.context["url"].endswith(f"/admin/readiness/release/{release.pk}/review/")
    assert far.pk != rem.related.pk
    sweep()
    sweep()
    assert ReminderLog.objects.filter(rule="readiness.signoff_due").count() == 1
    assert Notification.objects.filter(recipient=world.lead).exists()


@pytest.mark.django_db
def test_signed_or_cancelled_releases_are_not_reminded():
    world = ready_world()
    release = make_release(world, start_in=timedelta(hours=20))
    services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    services.sign(release=release, actor=world.lead)
    planned = make_release(world, start_in=timedelta(hours=10), version="3.0")
    services.cancel(release=planned, actor=world.lead)
    assert list(reminders.RULES[0].due(now=timezone.now(), config=SIX_HOURLY)) == []
