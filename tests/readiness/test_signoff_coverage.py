"""What a sign-off covers, and re-signing: a signature vouches for the review's items AND the
release's plan (window, risk, services, version, change summary, release lead, rollback).
Changing any of them after signing invalidates it with a reason naming what changed; signing
again supersedes the old signature (kept for audit), and only current signatures count."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from readiness import selectors, services
from readiness.models import Release, Signature
from readiness.permissions import RELEASE_LEAD_SLOT
from tests.factories import UserFactory
from tests.readiness.factories import complete_manual_items, make_release, ready_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(release_lead):
    return ready_world(lead=release_lead)


@pytest.fixture
def release(world):
    r = make_release(world)
    services.start_review(release=r, actor=world.lead)
    complete_manual_items(r, world.lead)
    r.refresh_from_db()
    return r


@pytest.fixture
def client_(api_as, world):
    return api_as(world.lead)


def gate(client, release) -> dict:
    r = client.get(f"/api/v1/releases/{release.pk}/gate/")
    assert r.status_code == 200, r.content
    return r.json()


def sign(client, release) -> dict:
    r = client.post(f"/api/v1/releases/{release.pk}/sign/")
    assert r.status_code == 200, r.content
    return r.json()


class TestResignThroughTheApi:
    def test_resign_after_an_item_change_restores_go(self, client_, release):
        assert sign(client_, release)["status"] == "approved"
        assert gate(client_, release) | {"checked_at": None, "warnings": None, "last_deploys": None} == {
            "decision": "go", "reasons": [], "warnings": None, "checked_at": None,
            "release": release.pk, "status": "approved", "budgets": [], "last_deploys": None,
        }  # fmt: skip
        item = release.review.items.get(key="escalation-path")
        r = client_.post(
            f"/api/v1/release-items/{item.pk}/update-state/",
            {"state": "pass", "evidence_note": "Call the VP."},
        )
        assert r.status_code == 200, r.content
        body = gate(client_, release)
        assert body["decision"] == "no-go"
        assert body["status"] == "in_review"
        assert body["reasons"] == [
            f"signature of {release.release_lead} (release lead) is invalid: "
            "item 'Escalation path documented' changed after signing (evidence)",
            "sign-off missing: release lead",
        ]

        detail = sign(client_, release)
        assert detail["status"] == "approved"
        body = gate(client_, release)
        assert (body["decision"], body["reasons"]) == ("go", [])
        old, new = detail["signatures"]
        assert old["superseded_at"] is not None
        assert (
            old["invalidated_reason"] == "item 'Escalation path documented' changed after signing (evidence)"
        )
        assert new["supersedes"] == old["id"]
        assert (new["superseded_at"], new["invalidated_at"]) == (None, None)

    def test_every_invalidation_can_be_cured_by_signing_again(self, client_, release):
        item = release.review.items.get(key="support-comms")
        for n in range(3):
            sign(client_, release)
            assert gate(client_, release)["decision"] == "go"
            r = client_.post(
                f"/api/v1/release-items/{item.pk}/update-state/",
                {"state": "pass", "evidence_url": f"https://docs.example.com/comms-v{n}"},
            )
            assert r.status_code == 200
            assert gate(client_, release)["decision"] == "no-go"
        sign(client_, release)
        assert gate(client_, release)["decision"] == "go"
        sigs = list(Signature.objects.filter(review__release=release).order_by("signed_at", "pk"))
        assert len(sigs) == 4
        assert [s.superseded_at is None for s in sigs] == [False, False, False, True]
        assert [s.supersedes_id for s in sigs] == [None, sigs[0].pk, sigs[1].pk, sigs[2].pk]

    def test_rollback_minutes_change_after_signing_is_no_go_until_signed_again(self, client_, release):
        sign(client_, release)
        r = client_.patch(f"/api/v1/releases/{release.pk}/", {"rollback_minutes": 45}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["status"] == "in_review"  # leaves approved, as an item change does
        body = gate(client_, release)
        assert body["decision"] == "no-go"
        assert (
            f"signature of {release.release_lead} (release lead) is invalid: "
            "release changed after signing (rollback_minutes)"
        ) in body["reasons"]
        sign(client_, release)
        body = gate(client_, release)
        assert (body["decision"], body["reasons"]) == ("go", [])
        current = Signature.objects.get(review__release=release, superseded_at__isnull=True)
        assert current.snapshot["release"]["rollback_minutes"] == 45


def _other_service(world):
    return ready_world(slug="search-api").service


COVERED = {
    "rollback_minutes": lambda r, w: 90,
    "rollback_evidence_url": lambda r, w: "https://docs.example.com/another-drill",
    "rollback_evidence_note": lambda r, w: "Drill repeated on staging.",
    "rollback_plan": lambda r, w: "Flip the feature flag off.",
    "rollback_tested_at": lambda r, w: r.rollback_tested_at - timedelta(days=1),
    "window_start": lambda r, w: r.window_start - timedelta(minutes=30),
    "window_end": lambda r, w: r.window_end + timedelta(hours=1),
    "risk": lambda r, w: "medium",
    "version": lambda r, w: "1.0.1",
    "change_summary": lambda r, w: "Also migrates the invoices table.",
    "release_lead": lambda r, w: UserFactory(username="deputy", is_staff=True, roles=[roles.RELEASE_LEADS]),
}


@pytest.mark.parametrize("field", [*COVERED, "services"])
def test_each_covered_field_invalidates_naming_itself(release, world, field):
    services.sign(release=release, actor=world.lead)
    if field == "services":
        changes = {"services": [world.service, _other_service(world)]}
    else:
        changes = {field: COVERED[field](release, world)}
    services.update_release(release=release, actor=world.lead, **changes)
    release.refresh_from_db()
    assert release.status == Release.Status.IN_REVIEW
    sig = Signature.objects.get(review__release=release)
    assert sig.invalidated_reason == f"release changed after signing ({field})"
    result = selectors.gate(release)
    assert result.decision == "no-go"
    assert any(f"is invalid: release changed after signing ({field})" in r for r in result.reasons)
    services.sign(release=release, actor=world.lead)
    assert selectors.gate(release).decision == "go", selectors.gate(release).reasons


def test_renaming_a_release_keeps_the_sign_off(release, world):
    services.sign(release=release, actor=world.lead)
    services.update_release(release=release, actor=world.lead, name="Billing platform")
    release.refresh_from_db()
    assert release.status == Release.Status.APPROVED
    assert selectors.gate(release).decision == "go"


def test_a_change_that_bypasses_the_services_is_caught_by_the_hash(release, world):
    """The signature hashes what it covers, so the gate notices a change made outside the
    services (a shell, a raw UPDATE) and names the field."""
    services.sign(release=release, actor=world.lead)
    Release.objects.filter(pk=release.pk).update(rollback_minutes=999, rollback_evidence_url="")
    release.refresh_from_db()
    result = selectors.gate(release)
    assert result.decision == "no-go"
    assert (
        f"signature of {world.lead} (release lead) is invalid: "
        "release changed after signing (rollback_minutes, rollback_evidence_url)"
    ) in result.reasons


def test_several_changes_name_each_of_them(release, world):
    services.sign(release=release, actor=world.lead)
    services.update_release(
        release=release, actor=world.lead, rollback_minutes=20, risk="medium", change_summary="More."
    )
    assert Signature.objects.get(review__release=release).invalidated_reason == (
        "release changed after signing (change_summary, risk, rollback_minutes)"
    )


def test_one_current_signature_per_slot_is_a_database_rule(release, world):
    sig = services.sign(release=release, actor=world.lead)
    Signature.objects.filter(pk=sig.pk).update(invalidated_at=timezone.now(), invalidated_reason="test")
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.create(
            review=release.review, slot=RELEASE_LEAD_SLOT, signer=world.lead, signed_at=timezone.now(),
            content_hash="0" * 64,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        # superseded without having been invalidated
        Signature.objects.filter(pk=sig.pk).update(invalidated_at=None, superseded_at=timezone.now())


def test_signing_again_while_the_signature_stands_conflicts(client_, release):
    sign(client_, release)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.IN_REVIEW)
    r = client_.post(f"/api/v1/releases/{release.pk}/sign/")
    assert r.status_code == 409
    assert "Already signed" in r.json()["detail"]
    assert Signature.objects.filter(review__release=release).count() == 1


class TestAdminPath:
    """The admin change form and the review page's sign button go through the same services."""

    def _form(self, release) -> dict:
        local = timezone.localtime(release.window_start)
        end = timezone.localtime(release.window_end)
        tested = timezone.localtime(release.rollback_tested_at)
        return {
            "name": release.name, "version": release.version,
            "services": [s.pk for s in release.services.all()], "release_lead": release.release_lead_id,
            "risk": release.risk, "change_summary": release.change_summary,
            "window_start_0": f"{local:%Y-%m-%d}", "window_start_1": f"{local:%H:%M:%S.%f}",
            "window_end_0": f"{end:%Y-%m-%d}", "window_end_1": f"{end:%H:%M:%S.%f}",
            "rollback_plan": release.rollback_plan, "rollback_minutes": release.rollback_minutes,
            "rollback_tested_at_0": f"{tested:%Y-%m-%d}", "rollback_tested_at_1": f"{tested:%H:%M:%S.%f}",
            "rollback_evidence_url": release.rollback_evidence_url,
            "rollback_evidence_note": release.rollback_evidence_note,
        }  # fmt: skip

    def test_admin_edit_invalidates_and_review_page_re_sign_restores_go(self, client, release, world):
        client.force_login(world.lead)
        review_url = reverse("admin:readiness_release_review", args=[release.pk])
        client.post(review_url, {"action": "sign"})
        release.refresh_from_db()
        assert release.status == Release.Status.APPROVED
        data = self._form(release)
        data["rollback_minutes"] = 60
        r = client.post(reverse("admin:readiness_release_change", args=[release.pk]), data)
        assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
        release.refresh_from_db()
        assert release.rollback_minutes == 60
        assert release.status == Release.Status.IN_REVIEW
        page = client.get(review_url).content.decode()
        assert "release changed after signing (rollback_minutes)" in page
        client.post(review_url, {"action": "sign"})
        release.refresh_from_db()
        assert release.status == Release.Status.APPROVED
        assert selectors.gate(release).decision == "go"
        page = client.get(review_url).content.decode()
        assert "superseded" in page


def test_a_release_with_superseded_signatures_can_still_be_deleted(release, world):
    services.sign(release=release, actor=world.lead)
    services.update_release(release=release, actor=world.lead, rollback_minutes=77)
    services.sign(release=release, actor=world.lead)
    assert Signature.objects.filter(review__release=release).count() == 2
    Release.objects.get(pk=release.pk).delete()
    assert not Signature.objects.exists()
