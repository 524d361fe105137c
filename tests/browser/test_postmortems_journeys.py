from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import roles
from incidents.defaults import ensure_severities
from incidents.models import Incident
from postmortems.models import ActionItem, Postmortem
from tests.browser.conftest import ARTIFACTS, login, shoot
from tests.conftest import PASSWORD
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.postmortems.factories import resolved_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_writes_postmortem_reviewer_publishes_incident_closes(page, live_server, manager, responder):
    ensure_severities()  # a transactional test before this one may have flushed the seeded rows
    reviewer = UserFactory(
        username="reviewer", first_name="Rhea", last_name="Viewer", is_staff=True, roles=[roles.MANAGERS]
    )
    team = TeamFactory(name="Payments", manager=reviewer)
    team.members.add(manager, responder)
    service = ServiceFactory(name="Billing API", slug="billing-api", owner_team=team, tier="tier-1")
    incident = resolved_incident(actor=responder, service=service, level=2, title="Card payments failing")

    # The manager opens the resolved SEV-2 in its incident room: closing it is refused until a
    # postmortem is published, and the refusal offers to start one.
    page.on("dialog", lambda dialog: dialog.accept())  # the room's "Close INC-...?" confirmation
    login(page, live_server, "manager", PASSWORD)
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    page.get_by_role("button", name="Close", exact=True).click()
    refusal = page.locator(".messagelist .error")
    expect(refusal).to_contain_text("cannot be closed yet: a published postmortem is required")
    assert Incident.objects.get(pk=incident.pk).status == "resolved"

    # Start its postmortem from the refusal: the timeline is prefilled from the incident.
    refusal.get_by_role("button", name="Start postmortem").click()
    expect(page.locator(".messagelist")).to_contain_text("prefilled from the incident")
    expect(page).to_have_url(
        f"{live_server.url}/admin/postmortems/postmortem/{Postmortem.objects.get(incident=incident).pk}/change/"
    )
    expect(page.locator("#id_timeline")).to_contain_text("Declared SEV-2")
    expect(page.locator("#id_timeline")).to_contain_text("investigating -> resolved")

    # Write the analysis and add two action items with owners.
    page.locator("#id_summary").fill("Card payments failed for a third of checkouts for an hour.")
    page.locator("#id_root_cause").fill("A retry storm exhausted the database connection pool.")
    page.locator("#id_resolution").fill("Rolled back the retry change and raised the pool size.")
    due = (timezone.now() + timedelta(days=14)).date().isoformat()
    for i, (title, owner, kind) in enumerate(
        [
            ("Alert on pool saturation", str(responder), "detect"),
            ("Backoff with jitter for retries", str(manager), "prevent"),
        ]
    ):
        page.get_by_text("Add another Action item").click()
        page.locator(f"#id_action_items-{i}-title").fill(title)
        page.locator(f"#id_action_items-{i}-owner").select_option(label=owner)
        page.locator(f"#id_action_items-{i}-kind").select_option(kind)
        page.locator(f"#id_action_items-{i}-due_date").fill(due)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messagelist")).to_contain_text("Submitted for review")
    expect(page.locator("#postmortem-review")).to_contain_text("authors cannot approve their own")
    pm = Postmortem.objects.get(incident=incident)
    assert pm.status == "in_review"
    assert pm.reviewer == reviewer
    assert {(i.title, i.owner_id) for i in ActionItem.objects.filter(postmortem=pm)} == {
        ("Alert on pool saturation", responder.pk),
        ("Backoff with jitter for retries", manager.pk),
    }

    # The reviewer checks the checklist and publishes.
    page.context.clear_cookies()
    login(page, live_server, "reviewer", PASSWORD)
    page.goto(f"{live_server.url}/admin/postmortems/postmortem/{pm.pk}/change/")
    form = page.locator("#pm-approve-form")
    for box in form.locator("input[name=checklist]").all():
        box.check()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "postmortem-review.png"), full_page=True)
    shoot(page, "postmortem-review", at=form)
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.locator(".messagelist")).to_contain_text("Approved and published")
    pm.refresh_from_db()
    assert pm.status == "published"
    assert pm.published_by == reviewer
    assert pm.approved_by == reviewer

    # The incident can now be closed.
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text(f"{incident.reference} is closed")
    assert Incident.objects.get(pk=incident.pk).status == "closed"
