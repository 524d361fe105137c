"""Migrations 0003-0005: signatures taken before supersession existed are linked per slot,
and a standing one is re-stamped with the new signed content so an approved release stays
go (the format written out in 0004 must equal selectors.signed_content)."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from readiness import selectors, services
from readiness.models import Release, Signature
from tests.readiness.factories import complete_manual_items, make_release, ready_world

BEFORE = [("readiness", "0002_default_template")]
LATEST = None  # every app's latest migration: going back to 0002 also unapplies the apps that
# depend on readiness (deployments, slos, ...), which must come back for the tests after this one


def _legacy_hash(items) -> str:
    payload = json.dumps(
        selectors.canonical_items(items), separators=(",", ":"), sort_keys=True, ensure_ascii=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _migrate(targets):
    executor = MigrationExecutor(connection)
    if targets is None:
        targets = executor.loader.graph.leaf_nodes()
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_legacy_signatures_are_linked_and_standing_ones_re_stamped():
    world = ready_world()
    approved = make_release(world)
    services.start_review(release=approved, actor=world.lead)
    complete_manual_items(approved, world.lead)
    resigned = make_release(world, version="2.0")
    services.start_review(release=resigned, actor=world.lead)
    complete_manual_items(resigned, world.lead)
    stale = make_release(world, version="3.0")
    services.start_review(release=stale, actor=world.lead)
    complete_manual_items(stale, world.lead)
    items = {r.pk: list(r.review.items.all()) for r in (approved, resigned, stale)}
    signed_at = timezone.now() - timedelta(hours=2)

    _migrate(BEFORE)
    try:
        with connection.cursor() as cursor:

            def insert(release, *, at, invalidated=None, digest=None):
                cursor.execute(
                    "INSERT INTO readiness_signature (review_id, slot, signer_id, signed_at, items_hash, snapshot,"
                    " invalidated_at, invalidated_reason) VALUES (%s, 'release-lead', %s, %s, %s, %s, %s, %s)",
                    [
                        release.review.pk, world.lead.pk, at, digest or _legacy_hash(items[release.pk]),
                        json.dumps(selectors.canonical_items(items[release.pk])), invalidated,
                        "item 'Escalation path' changed after signing" if invalidated else "",
                    ],
                )  # fmt: skip

            insert(approved, at=signed_at)
            insert(resigned, at=signed_at, invalidated=signed_at + timedelta(minutes=5))
            insert(
                resigned, at=signed_at + timedelta(minutes=10), invalidated=signed_at + timedelta(minutes=20)
            )
            insert(resigned, at=signed_at + timedelta(minutes=30))
            insert(stale, at=signed_at, digest="f" * 64)
        Release.objects.filter(pk__in=[approved.pk, resigned.pk, stale.pk]).update(status="approved")
    finally:
        _migrate(LATEST)

    for release in (approved, resigned):
        release.refresh_from_db()
        result = selectors.gate(release)
        assert (release.status, result.decision, result.reasons) == ("approved", "go", []), release
    chain = list(Signature.objects.filter(review__release=resigned).order_by("signed_at"))
    assert [s.superseded_at for s in chain] == [chain[1].signed_at, chain[2].signed_at, None]
    assert [s.supersedes_id for s in chain] == [None, chain[0].pk, chain[1].pk]
    current = chain[-1]
    assert current.snapshot == selectors.signed_content(resigned, resigned.review.items.all()).data
    stale.refresh_from_db()
    assert stale.status == "in_review"
    (sig,) = Signature.objects.filter(review__release=stale)
    assert sig.invalidated_reason == "items changed after signing"
    services.sign(release=stale, actor=world.lead)
    assert selectors.gate(stale).decision == "go"
