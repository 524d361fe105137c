"""Review lifecycle: items copied from the template, waiver rules, sign-off rules, signature
invalidation, permissions by role, transitions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from readiness import selectors, services
from readiness.defaults import DEFAULT_ITEMS, DEFAULT_TEMPLATE_NAME
from readiness.models import ReadinessTemplate, Release, ReviewItem, TemplateItem
from readiness.permissions import RELEASE_LEAD_SLOT, manager_slot
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
    r.refresh_from_db()
    return r


def item(release, key) -> ReviewItem:
    return release.review.items.get(key=key)


def test_default_template_is_seeded_with_the_issue_items():
    t = ReadinessTemplate.objects.get(name=DEFAULT_TEMPLATE_NAME)
    assert t.is_default
    assert list(t.items.values_list("key", flat=True)) == [k for k, *_ in DEFAULT_ITEMS]


def test_start_review_copies_items_so_template_edits_do_not_rewrite_history(release):
    assert release.status == Release.Status.IN_REVIEW
    assert release.review.items.count() == len(DEFAULT_ITEMS)
    TemplateItem.objects.filter(key="runbooks").update(title="Changed later")
    assert item(release, "runbooks").title.startswith("Runbooks exist")
    # checks were evaluated on start: the ready world passes them all
    assert set(release.review.items.exclude(check_key="").values_list("state", flat=True)) == {"pass"}
    # rehearsal is optional for low risk
    assert item(release, "rehearsal").required is False


def test_template_chosen_per_risk_and_manager_slot_for_high_risk(world):
    high = ReadinessTemplate.objects.create(name="High risk", risk_levels=["high"], manager_signoff="high")
    TemplateItem.objects.create(template=high, position=1, key="cab", title="Change board approved")
    r = make_release(world, risk="high", version="2.0")
    services.start_review(release=r, actor=world.lead)
    assert r.review.template_name == "High risk"
    assert r.review.required_slots == [RELEASE_LEAD_SLOT, manager_slot(world.team.pk)]
    low = make_release(world, version="2.1")
    services.start_review(release=low, actor=world.lead)
    assert low.review.template_name == DEFAULT_TEMPLATE_NAME
    assert low.review.required_slots == [RELEASE_LEAD_SLOT]


def test_high_risk_default_template_makes_rehearsal_required(world):
    r = make_release(world, risk="high", version="3.0")
    services.start_review(release=r, actor=world.lead)
    assert r.review.items.get(key="rehearsal").required is True


class TestWaivers:
    def test_waiver_needs_a_reason(self, release, world):
        with pytest.raises(InvalidInput, match="A waiver needs a reason"):
            services.update_item(
                item=item(release, "support-comms"), actor=world.lead, state="waived", waiver_reason="  "
            )

    def test_waiver_records_who_and_why_and_is_lifted_cleanly(self, release, world):
        it = services.update_item(
            item=item(release, "support-comms"),
            actor=world.lead,
            state="waived",
            waiver_reason="internal-only change",
        )
        assert (it.state, it.waived_by, it.waiver_reason) == ("waived", world.lead, "internal-only change")
        it = services.update_item(item=it, actor=world.lead, state="pending")
        assert (it.state, it.waived_by, it.waiver_reason) == ("pending", None, "")

    def test_reason_only_with_a_waiver(self, release, world):
        with pytest.raises(InvalidInput, match="Only waived items"):
            services.update_item(
                item=item(release, "support-comms"), actor=world.lead, state="pass", waiver_reason="x"
            )

    def test_waived_check_stays_waived_across_re_evaluation_and_lifting_returns_to_the_check(
        self, release, world
    ):
        release.rollback_tested_at = None
        release.save()
        services.evaluate_checks(release=release, actor=world.lead)
        assert item(release, "rollback-tested").state == "fail"
        services.update_item(
            item=item(release, "rollback-tested"),
            actor=world.team.manager,
            state="waived",
            waiver_reason="hotfix",
        )
        services.evaluate_checks(release=release, actor=world.lead)
        it = item(release, "rollback-tested")
        assert it.state == "waived"
        assert it.check_passed is False
        assert it.check_reasons == ["rollback was never tested"]
        it = services.update_item(item=it, actor=world.lead, state="pending")
        assert it.state == "fail"

    def test_automatic_items_cannot_be_passed_by_hand(self, release, world):
        with pytest.raises(InvalidInput, match="decided by its automatic check"):
            services.update_item(item=item(release, "runbooks"), actor=world.lead, state="pass")

    def test_evidence_required_to_pass(self, release, world):
        with pytest.raises(InvalidInput, match="needs evidence"):
            services.update_item(item=item(release, "support-comms"), actor=world.lead, state="pass")
        it = services.update_item(
            item=item(release, "support-comms"), actor=world.lead, state="pass", evidence_note="Draft in doc"
        )
        assert it.state == "pass"

    def test_bad_state_and_bad_link(self, release, world):
        with pytest.raises(InvalidInput):
            services.update_item(item=item(release, "support-comms"), actor=world.lead, state="done")
        with pytest.raises(InvalidInput, match="http"):
            services.update_item(
                item=item(release, "support-comms"),
                actor=world.lead,
                state="pass",
                evidence_url="javascript:alert(1)",
            )


class TestSignOff:
    def test_cannot_sign_with_open_items(self, release, world):
        with pytest.raises(Conflict, match="Cannot sign yet: item 'Support communication plan"):
            services.sign(release=release, actor=world.lead)

    def test_cannot_sign_with_a_failing_check(self, release, world):
        complete_manual_items(release, world.lead)
        release.rollback_tested_at = None
        release.save()
        with pytest.raises(Conflict, match="rollback was never tested"):
            services.sign(release=release, actor=world.lead)

    def test_sign_approves_and_records_hash_and_snapshot(self, release, world):
        complete_manual_items(release, world.lead)
        sig = services.sign(release=release, actor=world.lead)
        release.refresh_from_db()
        assert release.status == Release.Status.APPROVED
        content = selectors.signed_content(release, release.review.items.all())
        assert sig.content_hash == content.digest
        assert len(sig.content_hash) == 64
        assert sig.snapshot == content.data
        assert sig.snapshot["items"][0][:2] == ["runbooks", "pass"]
        assert sig.snapshot["release"]["rollback_minutes"] == 10
        assert sig.snapshot["release"]["services"] == [world.service.pk]
        assert sig.signer == world.lead
        assert sig.slot == RELEASE_LEAD_SLOT

    def test_any_item_change_after_signing_invalidates(self, release, world):
        complete_manual_items(release, world.lead)
        services.sign(release=release, actor=world.lead)
        services.update_item(
            item=item(release, "escalation-path"),
            actor=world.lead,
            state="pass",
            evidence_note="Changed wording",
        )
        release.refresh_from_db()
        assert release.status == Release.Status.IN_REVIEW
        content = selectors.signed_content(release, release.review.items.all())
        (view,) = selectors.signature_views(release.review, content)
        assert not view.valid
        assert "escalation-path" not in view.why_invalid
        assert view.why_invalid == "item 'Escalation path documented' changed after signing (evidence)"
        assert selectors.missing_slots(release.review, content) == [RELEASE_LEAD_SLOT]
        # re-sign: a new valid signature, the old one stays as superseded history
        services.sign(release=release, actor=world.lead)
        assert release.review.signatures.count() == 2
        content = selectors.signed_content(release, release.review.items.all())
        old, new = selectors.signature_views(release.review, content)
        assert (old.current, old.valid, new.current, new.valid) == (False, False, True, True)
        assert selectors.missing_slots(release.review, content) == []

    def test_tampered_hash_shows_invalid(self, release, world):
        complete_manual_items(release, world.lead)
        sig = services.sign(release=release, actor=world.lead)
        sig.content_hash = "0" * 64
        sig.save()
        content = selectors.signed_content(release, release.review.items.all())
        (view,) = selectors.signature_views(release.review, content)
        assert not view.valid
        assert view.why_invalid == "the signed content does not match its hash"

    def test_release_change_invalidates(self, release, world):
        complete_manual_items(release, world.lead)
        services.sign(release=release, actor=world.lead)
        services.update_release(
            release=release, actor=world.lead, window_end=release.window_end + timedelta(hours=1)
        )
        release.refresh_from_db()
        assert release.status == Release.Status.IN_REVIEW
        assert release.review.signatures.get().invalidated_reason.startswith(
            "release changed after signing (window_end)"
        )

    def test_signing_twice_conflicts(self, release, world):
        complete_manual_items(release, world.lead)
        services.sign(release=release, actor=world.lead)
        Release.objects.filter(pk=release.pk).update(status=Release.Status.IN_REVIEW)
        with pytest.raises(Conflict, match="Already signed"):
            services.sign(release=release, actor=world.lead)

    def test_high_risk_needs_the_owning_teams_manager(self, world):
        r = make_release(world, risk="high", version="9.0")
        services.start_review(release=r, actor=world.lead)
        complete_manual_items(r, world.lead)
        services.update_item(
            item=item(r, "rehearsal"),
            actor=world.team.manager,
            state="waived",
            waiver_reason="tabletop next week",
        )
        services.sign(release=r, actor=world.lead)
        r.refresh_from_db()
        assert r.status == Release.Status.IN_REVIEW
        assert f"sign-off missing: engineering manager of {world.team.name}" in selectors.gate(r).reasons
        other_manager = UserFactory(username="other-mgr", is_staff=True, roles=[roles.MANAGERS])
        with pytest.raises(NotAllowed):
            services.sign(release=r, actor=other_manager)
        services.sign(release=r, actor=world.team.manager)
        r.refresh_from_db()
        assert r.status == Release.Status.APPROVED


class TestPermissions:
    def test_responder_cannot_sign_or_change_items(self, release, responder):
        with pytest.raises(NotAllowed):
            services.sign(release=release, actor=responder)
        with pytest.raises(NotAllowed):
            services.update_item(item=item(release, "support-comms"), actor=responder, state="fail")

    @pytest.mark.parametrize("who", ["support_user", "outsider", "manager"])
    def test_others_cannot_sign_the_release_lead_slot(self, release, who, request):
        with pytest.raises(NotAllowed):
            services.sign(release=release, actor=request.getfixturevalue(who))

    def test_any_release_lead_may_sign_the_lead_slot(self, release, world):
        complete_manual_items(release, world.lead)
        deputy = UserFactory(username="deputy", is_staff=True, roles=[roles.RELEASE_LEADS])
        assert services.sign(release=release, actor=deputy).signer == deputy

    def test_release_lead_field_must_be_a_release_lead(self, world, responder):
        with pytest.raises(InvalidInput, match="Release leads"):
            services.create_release(
                actor=world.lead, services=[world.service], name="X", version="1", release_lead=responder,
                window_start=timezone.now(), window_end=timezone.now() + timedelta(hours=1),
            )  # fmt: skip

    def test_support_and_responder_cannot_plan(self, world, support_user, responder):
        for who in (support_user, responder):
            with pytest.raises(NotAllowed):
                services.create_release(
                    actor=who, services=[world.service], name="X", version="1", release_lead=world.lead,
                    window_start=timezone.now(), window_end=timezone.now() + timedelta(hours=1),
                )  # fmt: skip


class TestTransitions:
    def test_window_must_end_after_start(self, world):
        with pytest.raises(InvalidInput, match="end after"):
            make_release(world, length=timedelta(0))

    def test_duplicate_version_conflicts(self, world):
        make_release(world)
        with pytest.raises(Conflict):
            make_release(world)

    def test_shipped_only_from_approved_then_rolled_back(self, release, world):
        with pytest.raises(Conflict):
            services.mark_shipped(release=release, actor=world.lead)
        complete_manual_items(release, world.lead)
        services.sign(release=release, actor=world.lead)
        assert services.mark_shipped(release=release, actor=world.lead).status == "shipped"
        assert services.mark_rolled_back(release=release, actor=world.lead).status == "rolled_back"
        with pytest.raises(Conflict):
            services.cancel(release=release, actor=world.lead)
        with pytest.raises(Conflict):
            services.update_item(item=item(release, "support-comms"), actor=world.lead, state="fail")

    def test_review_starts_once(self, release, world):
        with pytest.raises(Conflict):
            services.start_review(release=release, actor=world.lead)

    def test_history_records_item_changes(self, release, world):
        it = services.update_item(item=item(release, "support-comms"), actor=world.lead, state="fail")
        assert it.history.count() >= 2
        assert release.history.count() >= 2
