"""The published operating model page, its Markdown export and the one-click check-in link."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from escalations.models import SupportSettings
from incidents.defaults import ensure_severities
from incidents.models import Severity
from oncall.models import (
    EscalationLevel,
    EscalationPolicy,
    LayerMember,
    RotationLayer,
    Schedule,
    ServicePolicy,
)
from operations import tokens
from operations.models import CheckIn
from readiness.defaults import DEFAULT_TEMPLATE_NAME, ensure_default_template
from readiness.models import ReadinessTemplate, TemplateItem
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory
from tests.operations.helpers import form_data

PAGE = "/operating-model/"
MD = "/operating-model.md"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FRI = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _severities(db):
    ensure_severities()


def on_call_setup(team, person, *, policy_name="Payments default"):
    schedule = Schedule.objects.create(team=team, name=f"{team.name} primary", time_zone="Europe/Berlin")
    layer = RotationLayer.objects.create(
        schedule=schedule, start_date=date(2026, 11, 2), rotation_unit="weeks"
    )
    LayerMember.objects.create(layer=layer, user=person, position=0)
    policy = EscalationPolicy.objects.create(team=team, name=policy_name, is_team_default=True)
    level = EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=10)
    level.schedules.add(schedule)
    return schedule, policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "status"),
    [("manager", 200), ("responder", 200), ("release_lead", 200), ("superuser", 200), ("support_user", 403),
     ("outsider", 403)],
)  # fmt: skip
def test_who_may_read_the_operating_model(client, request, actor, status):
    client.force_login(request.getfixturevalue(actor))
    assert client.get(PAGE).status_code == status
    assert client.get(MD).status_code == status


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_page_groups_duties_by_team_with_owner_cadence_and_health(client, responder):
    payments = TeamFactory(name="Payments", slug="payments")
    alice = UserFactory(first_name="Alice", last_name="Ng")
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        ResponsibilityFactory(
            team=payments, title="Incident triage", owner=alice, first_due_on=date(2026, 10, 30)
        )
        ResponsibilityFactory(
            team=payments, title="Backlog hygiene", owner=None, first_due_on=date(2026, 12, 4)
        )
    client.force_login(responder)
    with time_machine.travel(NOW, tick=False):
        html = client.get(PAGE).content.decode()
    assert 'id="team-payments"' in html
    assert "Incident triage" in html
    assert "Alice Ng" in html
    assert "Weekly on Friday at 09:00 (UTC)" in html
    assert 'data-health="overdue"' in html
    assert "4 cycles" in html
    assert 'data-health="unowned"' in html
    assert "Overdue: 1" in html
    assert "Unowned: 1" in html


@pytest.mark.django_db
def test_page_shows_the_live_severity_slas_and_an_admin_edit_changes_it(client, manager):
    client.force_login(manager)
    assert "5 min" in client.get(PAGE).content.decode()
    sev1 = Severity.objects.get(level=1)
    url = reverse("admin:incidents_severity_change", args=[sev1.pk])
    data = form_data(client.get(url).content.decode(), "severity_form")
    data["ack_sla_minutes"] = "7"
    data["name"] = "Everything is on fire"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    html = client.get(PAGE).content.decode()
    assert "Everything is on fire" in html
    assert "7 min" in html
    assert "Everything is on fire" in client.get(MD).content.decode()


@pytest.mark.django_db
def test_page_shows_on_call_schedules_and_policies_and_an_admin_edit_changes_it(client, manager):
    team = TeamFactory(name="Payments", slug="payments")
    ServiceFactory(owner_team=team)
    oncaller = UserFactory(first_name="Omar", last_name="Oncall")
    _schedule, policy = on_call_setup(team, oncaller)
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        html = client.get(PAGE).content.decode()
    assert "Payments primary" in html
    assert "on call now: <strong>Omar Oncall</strong>" in html
    assert "Payments default" in html
    assert "on call for Payments primary; next after 10 min" in html
    assert "owns services but has no on-call schedule" not in html

    url = reverse("admin:oncall_escalationpolicy_change", args=[policy.pk])
    data = form_data(client.get(url).content.decode(), "escalationpolicy_form")
    data["name"] = "Payments money-path policy"
    data["levels-0-delay_minutes"] = "25"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = client.get(PAGE).content.decode()
    assert "Payments money-path policy" in html
    assert "next after 25 min" in html


@pytest.mark.django_db
def test_markdown_export_is_a_download_with_every_section(client, manager):
    team = TeamFactory(name="Edge | DNS", slug="edge")
    ServiceFactory(owner_team=team)
    ResponsibilityFactory(
        team=team, title="Runbook upkeep", definition_of_done="Check *all* runbooks\nand fix"
    )
    client.force_login(manager)
    response = client.get(MD)
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="operating-model-')
    text = response.content.decode()
    assert text.startswith("# Operating model")
    assert "## Severity framework" in text
    assert "| SEV-1 |" in text
    assert "## Edge \\| DNS" in text
    assert "Check \\*all\\* runbooks and fix" in text  # one table row, markup escaped
    assert "**Services but no on-call schedule**: Edge \\| DNS owns services" in text


@pytest.mark.django_db
def test_page_query_count_does_not_grow_with_teams_duties_or_schedules(client, manager):
    client.force_login(manager)
    team = TeamFactory()
    ResponsibilityFactory(team=team)
    on_call_setup(team, UserFactory(), policy_name="p0")
    with CaptureQueriesContext(connection) as small:
        assert client.get(PAGE).status_code == 200
    for i in range(4):
        other = TeamFactory()
        ServiceFactory(owner_team=other)
        for _ in range(3):
            ResponsibilityFactory(team=other)
        _sched, policy = on_call_setup(other, UserFactory(), policy_name=f"p{i + 1}")
        ServicePolicy.objects.create(service=ServiceFactory(owner_team=other), policy=policy)
        template = ReadinessTemplate.objects.create(name=f"Template {i}", risk_levels=["high"] if i else [])
        for pos in range(3):
            TemplateItem.objects.create(template=template, position=pos, key=f"k{pos}", title=f"Item {pos}")
        UserFactory(is_staff=True, roles=[roles.RELEASE_LEADS])
    with CaptureQueriesContext(connection) as large:
        assert client.get(PAGE).status_code == 200
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]


# --- the release process and the support escalation path -------------------------------------
@pytest.fixture
def release_setup(db):
    ensure_default_template(ReadinessTemplate, TemplateItem)
    lead = UserFactory(first_name="Rita", last_name="Release", is_staff=True, roles=[roles.RELEASE_LEADS])
    UserFactory(first_name="Gone", last_name="Lead", is_active=False, roles=[roles.RELEASE_LEADS])
    high = ReadinessTemplate.objects.create(
        name="High-risk launch", risk_levels=["high"], manager_signoff=ReadinessTemplate.ManagerSignoff.ALWAYS
    )
    TemplateItem.objects.create(
        template=high, position=1, key="rollback", title="Rollback rehearsed in staging",
        check_key="rollback_tested", evidence_required=True,
    )  # fmt: skip
    TemplateItem.objects.create(
        template=high, position=2, key="exec-brief", title="Exec briefing sent", required=False,
        required_for_high_risk=True,
    )  # fmt: skip
    TemplateItem.objects.create(
        template=high, position=3, key="blog", title="Blog post drafted", required=False
    )
    return lead, high


@pytest.mark.django_db
def test_page_shows_the_release_process_from_live_templates(client, responder, release_setup):
    client.force_login(responder)
    html = client.get(PAGE).content.decode()
    assert 'id="release-process"' in html
    assert "<strong>Release leads:</strong> Rita Release</p>" in html  # the inactive one is left out
    assert f"{DEFAULT_TEMPLATE_NAME} (default) - used for low, medium risk" in html
    assert "High-risk launch - used for high risk" in html
    # the default template: release lead only (managers sign high risk only, which it does not cover)
    assert "Signs off: a release lead (member of Release leads)</p>" in html
    assert (
        "Signs off: a release lead (member of Release leads); the engineering manager of every team "
        "owning a service in the release</p>"
    ) in html
    assert "automatic: Rollback tested recently, with evidence" in html
    assert "<td>required for high risk</td>" in html
    assert "<td>optional</td>" in html
    assert "marked by hand" in html
    assert "Runbooks exist and were reviewed within 90 days" in html  # a default item
    assert "/api/v1/releases/&lt;id&gt;/gate/" in html
    assert "manage.py release_gate" in html
    assert "No template covers" not in html
    assert "and the deploy window is open; otherwise" in html

    text = client.get(MD).content.decode()
    assert "## Release process" in text
    assert "### High-risk launch - used for high risk" in text
    assert (
        "| 1 | Rollback rehearsed in staging | required | automatic: Rollback tested recently, with evidence |"
        in text
    )
    assert "| 2 | Exec briefing sent | required for high risk | marked by hand |" in text
    assert "Release leads: Rita Release" in text
    assert "`GET /api/v1/releases/<id>/gate/`" in text
    assert "`manage.py release_gate" in text
    assert "and the deploy window is open; otherwise no-go" in text


@pytest.mark.django_db
def test_editing_a_template_item_in_the_admin_changes_the_page(client, manager, release_setup):
    _lead, high = release_setup
    client.force_login(manager)
    assert "Rollback rehearsed in staging" in client.get(PAGE).content.decode()
    url = reverse("admin:readiness_readinesstemplate_change", args=[high.pk])
    data = form_data(client.get(url).content.decode(), "readinesstemplate_form")
    assert data["items-0-title"] == "Rollback rehearsed in staging"
    data["items-0-title"] = "Rollback rehearsed in production-like staging"
    data["items-2-required"] = "on"  # the blog post becomes required
    data["risk_levels"] = '["high", "medium"]'
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = client.get(PAGE).content.decode()
    assert "Rollback rehearsed in production-like staging" in html
    assert "Rollback rehearsed in staging<" not in html
    assert "High-risk launch - used for medium, high risk" in html
    assert f"{DEFAULT_TEMPLATE_NAME} (default) - used for low risk" in html
    blog = TemplateItem.objects.get(template=high, key="blog")
    assert f'<tr id="template-item-{blog.pk}"><td>3</td>' in html
    row = html.split(f'id="template-item-{blog.pk}"')[1].split("</tr>")[0]
    assert "<td>required</td>" in row
    text = client.get(MD).content.decode()
    assert "| 3 | Blog post drafted | required | marked by hand |" in text


@pytest.mark.django_db
def test_release_process_flags_risks_no_template_covers(client, manager):
    ReadinessTemplate.objects.all().delete()
    ReadinessTemplate.objects.create(name="Only high", risk_levels=["high"])
    client.force_login(manager)
    html = client.get(PAGE).content.decode()
    assert "No template covers low, medium risk releases" in html
    assert "nobody is in the Release leads group" in html
    assert "no template covers low, medium risk releases" in client.get(MD).content.decode()


@pytest.mark.django_db
def test_release_process_follows_the_gate_window_setting(client, manager, settings):
    settings.READINESS_GATE_ENFORCE_WINDOW = False
    client.force_login(manager)
    assert "all sign-offs are present\n    and valid; otherwise" in client.get(PAGE).content.decode()
    assert "present and valid; otherwise no-go" in client.get(MD).content.decode()


@pytest.fixture
def support_setup(db):
    config = SupportSettings.load()
    helpdesk = TeamFactory(name="Support engineering", slug="support-eng")
    triage = EscalationPolicy.objects.create(team=helpdesk, name="Support triage rota")
    SupportSettings.objects.filter(pk=config.pk).update(
        triage_policy=triage, blocked_ack_minutes=15, degraded_ack_minutes=60, question_ack_minutes=None,
        surge_threshold=3, surge_window_minutes=15, surge_severity=3,
    )  # fmt: skip
    payments = TeamFactory(name="Payments", slug="payments")
    default = EscalationPolicy.objects.create(team=payments, name="Payments default", is_team_default=True)
    money = EscalationPolicy.objects.create(team=payments, name="Money path")
    ServiceFactory(name="Checkout", slug="checkout", owner_team=payments)
    ledger = ServiceFactory(name="Ledger", slug="ledger", owner_team=payments)
    ServicePolicy.objects.create(service=ledger, policy=money)
    web = TeamFactory(name="Web", slug="web")
    ServiceFactory(name="Marketing site", slug="marketing-site", owner_team=web)
    return triage, default, money


@pytest.mark.django_db
def test_page_shows_the_support_escalation_path_from_live_settings(client, responder, support_setup):
    client.force_login(responder)
    html = client.get(PAGE).content.decode()
    assert 'id="support-path"' in html
    assert '<strong id="triage-policy">Support triage rota (Support engineering)</strong>' in html
    assert '<tr id="support-sla-blocked"><th scope="row">Blocked</th><td>15 min</td>' in html
    assert '<tr id="support-sla-degraded"><th scope="row">Degraded</th><td>1 h</td>' in html
    assert '<tr id="support-sla-question"><th scope="row">Question</th><td>next business day</td>' in html
    assert "3 escalations for one service within 15 min," in html
    assert "open a SEV-3 incident" in html
    route = html.split('id="route-checkout"')[1].split("</tr>")[0]
    assert "Payments default" in route
    assert "team default" in route
    route = html.split('id="route-ledger"')[1].split("</tr>")[0]
    assert "Money path" in route
    assert "service policy" in route
    route = html.split('id="route-marketing-site"')[1].split("</tr>")[0]
    assert "Support triage rota" in route
    assert "support triage" in route

    text = client.get(MD).content.decode()
    assert "## Support escalation path" in text
    assert "support-triage policy: **Support triage rota (Support engineering)**" in text
    assert "| Blocked | 15 min | pages on-call through the policy at once |" in text
    assert "| Question | next business day | tells the owning team" in text
    assert "Surge detection: 3 escalations for one service within 15 min" in text
    assert "| Ledger | Payments | Money path | service policy |" in text
    assert "| Marketing site | Web | Support triage rota | support triage |" in text


@pytest.mark.django_db
def test_editing_support_settings_in_the_admin_changes_the_page(client, manager, support_setup):
    _triage, _default, money = support_setup
    client.force_login(manager)
    url = reverse("admin:escalations_supportsettings_change", args=[SupportSettings.SINGLETON])
    data = form_data(client.get(url).content.decode(), "supportsettings_form")
    data["blocked_ack_minutes"] = "20"
    data["question_ack_minutes"] = "240"
    data["surge_threshold"] = "5"
    data["surge_severity"] = "2"
    data["triage_policy"] = str(money.pk)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = client.get(PAGE).content.decode()
    assert "<td>20 min</td>" in html
    assert '<tr id="support-sla-question"><th scope="row">Question</th><td>4 h</td>' in html
    assert "5 escalations for one service" in html
    assert "open a SEV-2 incident" in html
    assert '<strong id="triage-policy">Money path (Payments)</strong>' in html
    route = html.split('id="route-marketing-site"')[1].split("</tr>")[0]
    assert "Money path" in route
    assert "support triage" in route
    text = client.get(MD).content.decode()
    assert "| Blocked | 20 min |" in text
    assert "Surge detection: 5 escalations" in text


@pytest.mark.django_db
def test_without_a_triage_policy_unrouted_services_page_nobody(client, manager):
    SupportSettings.objects.filter(pk=SupportSettings.SINGLETON).delete()
    ServiceFactory(name="Orphan", slug="orphan", owner_team=TeamFactory())
    client.force_login(manager)
    html = client.get(PAGE).content.decode()
    assert '<strong id="triage-policy">not set</strong>' in html
    assert "<td>15 min</td>" in html  # the defaults, not written by the read
    route = html.split('id="route-orphan"')[1].split("</tr>")[0]
    assert "nobody is paged" in route
    assert not SupportSettings.objects.exists()


# --- the one-click link -------------------------------------------------------------------------
@pytest.fixture
def duty(db):
    with time_machine.travel(NOW, tick=False):
        return ResponsibilityFactory(title="Postmortem review")


def link(duty, due=FRI):
    return reverse("operations:check-in", args=[tokens.make_token(duty.pk, due)])


@pytest.mark.django_db
def test_link_get_only_confirms_and_post_records(client, duty):
    client.force_login(duty.owner)
    with time_machine.travel(FRI - timedelta(hours=2), tick=False):
        page = client.get(link(duty))
        assert page.status_code == 200
        assert "Yes, it is done" in page.content.decode()
        assert CheckIn.objects.count() == 0
        response = client.post(
            link(duty), {"note": "All reviewed", "evidence_url": "https://docs.example.com/pm"}
        )
        assert response.status_code == 302
        entry = CheckIn.objects.get()
        assert (entry.via, entry.done_by, entry.note, entry.covers_due_at) == (
            "link",
            duty.owner,
            "All reviewed",
            FRI,
        )
        again = client.get(link(duty))
        assert "is done" in again.content.decode()
        assert "Yes, it is done" not in again.content.decode()
        client.post(link(duty))  # a second click records nothing
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db
def test_link_for_the_backup_works_and_others_are_refused(client, duty, responder):
    client.force_login(responder)
    assert client.get(link(duty)).status_code == 403
    assert client.post(link(duty)).status_code == 403
    client.force_login(duty.backup)
    with time_machine.travel(FRI + timedelta(hours=5), tick=False):
        client.post(link(duty))
    assert CheckIn.objects.get().late


@pytest.mark.django_db
def test_link_needs_sign_in_and_a_valid_fresh_token(client, duty, settings):
    settings.OPERATIONS_CHECK_IN_LINK_MAX_AGE_DAYS = 2
    assert client.get(link(duty)).status_code == 302  # to the sign-in page
    client.force_login(duty.owner)
    assert client.get("/operating-model/check-in/forged-token/").status_code == 400
    token_url = link(duty)
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=3)):
        response = client.get(token_url)
        assert response.status_code == 410
        assert client.post(token_url).status_code == 410
    assert CheckIn.objects.count() == 0


@pytest.mark.django_db
def test_an_old_link_never_counts_for_a_later_cycle(client, duty):
    client.force_login(duty.owner)
    with time_machine.travel(FRI - timedelta(hours=1), tick=False):
        client.post(link(duty))
    with time_machine.travel(FRI + timedelta(days=6), tick=False):
        client.post(link(duty))  # the link for the 27th, clicked again the next week
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db
def test_admin_changelist_links_to_the_page(client, manager):
    client.force_login(manager)
    html = client.get(reverse("admin:operations_responsibility_changelist")).content.decode()
    assert 'href="/operating-model/"' in html
    assert 'href="/operating-model.md"' in html
