from datetime import UTC, datetime, timedelta

import pytest

from incidents import services
from incidents.models import Incident, Severity
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"
T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


def detail(incident, verb=""):
    return f"{URL}{incident.pk}/" + (f"{verb}/" if verb else "")


def test_declare_then_walk_the_lifecycle(api_as, responder, manager):
    team = TeamFactory(slug="payments", manager=manager)
    svc = ServiceFactory(name="Billing API", owner_team=team)
    api = api_as(responder)
    r = api.post(URL, {"title": "Charges failing", "severity": 2, "services": [svc.pk]})
    assert r.status_code == 201, r.data
    body = r.data
    assert body["reference"].startswith("INC-")
    assert body["severity"] == 2
    assert body["severity_label"] == "SEV-2"
    assert body["owning_team"] == team.pk
    assert body["service_names"] == ["Billing API"]
    assert body["status"] == "investigating"
    assert body["next_update_due_at"] is not None
    incident = Incident.objects.get(pk=body["id"])

    r = api.post(detail(incident, "acknowledge"))
    assert r.status_code == 200
    assert r.data["commander"] == responder.pk
    r = api.post(detail(incident, "identify"), {"note": "Bad config push."})
    assert r.data["status"] == "identified"
    r = api.post(detail(incident, "mitigate"))
    assert r.data["status"] == "monitoring"
    assert r.data["mitigated_at"]
    r = api.post(
        detail(incident, "updates"),
        {"audience": "external", "text": "Recovering.", "replace_customer_message": True},
    )
    assert r.status_code == 201
    assert r.data["status"] == "monitoring"
    r = api.post(detail(incident, "resolve"))
    assert r.data["status"] == "resolved"
    assert r.data["resolved_by"] == responder.pk
    r = api.post(detail(incident, "reopen"), {"reason": "Errors again"})
    assert r.data["status"] == "investigating"
    assert r.data["reopened_count"] == 1
    api.post(detail(incident, "resolve"))
    r = api.post(detail(incident, "close"))
    assert r.status_code == 200
    assert r.data["status"] == "closed"

    r = api.get(detail(incident, "timeline"))
    assert r.status_code == 200
    kinds = [e["kind"] for e in r.data]
    assert kinds[:2] == ["declared", "page"]  # a SEV-2 pages on-call (here: no policy, recorded)
    assert kinds[2:4] == ["acknowledged", "status_changed"]
    assert "status_update" in kinds
    assert kinds.count("status_changed") == 6
    r = api.get(detail(incident, "updates"))
    assert [u["text"] for u in r.data] == ["Recovering."]
    r = api.get(detail(incident, "timeline-markdown"))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/markdown")
    assert incident.reference in r.content.decode()


@pytest.mark.parametrize(
    ("setup", "verb", "message"),
    [
        ([], "close", "cannot move from investigating to closed"),
        ([], "reopen", "already investigating"),
        (["acknowledge"], "acknowledge", "already acknowledged by"),
        (["resolve"], "resolve", "already resolved by"),
        (["resolve"], "mitigate", "cannot move from resolved to monitoring"),
    ],
)
def test_invalid_transitions_answer_409(api_as, responder, setup, verb, message):
    incident = declare(actor=responder)
    for step in setup:
        getattr(services, step)(incident=incident, actor=responder)
    r = api_as(responder).post(detail(incident, verb))
    assert r.status_code == 409
    assert message in r.data["detail"]


def test_bad_input_answers_400_never_500(api_as, responder):
    svc = ServiceFactory()
    api = api_as(responder)
    assert api.post(URL, {"title": "x", "severity": 7, "services": [svc.pk]}).status_code == 400
    assert api.post(URL, {"title": "x", "severity": 2, "services": []}).status_code == 400
    assert api.post(URL, {"title": "", "severity": 2, "services": [svc.pk]}).status_code == 400
    r = api.post(URL, {"title": "x", "severity": 2, "services": [svc.pk], "detected_at": "2026-03-10T14:00:00Z",
                       "started_at": "2026-03-10T15:00:00Z"})  # fmt: skip
    assert r.status_code == 400
    assert "detected_at" in r.data
    incident = declare(actor=responder, detected_at=T0)
    r = api.post(detail(incident, "acknowledge"), {"at": (T0 - timedelta(minutes=1)).isoformat()})
    assert r.status_code == 400
    assert "earlier than detection" in r.data["acknowledged_at"][0]
    assert api.post(detail(incident, "acknowledge"), {"at": "yesterday"}).status_code == 400
    assert api.post(detail(incident, "timeline"), {"text": ""}).status_code == 400
    assert api.post(detail(incident, "updates"), {"audience": "press", "text": "x"}).status_code == 400
    assert api.post(detail(incident, "severity"), {"severity": 2}).status_code == 409
    assert api.post(detail(incident, "roles"), {"role": "scribe", "user": 999999}).status_code == 400
    assert (
        api.patch(detail(incident), {"started_at": (T0 + timedelta(minutes=5)).isoformat()}).status_code
        == 400
    )
    assert api.get(f"{URL}abc/").status_code == 404


def test_note_severity_roles_customer_message_and_edit(api_as, responder, manager):
    incident = declare(actor=responder, level=3, detected_at=T0)
    api = api_as(manager)
    r = api.post(
        detail(incident, "timeline"), {"text": "Deploy started", "occurred_at": "2026-03-10T13:55:00Z"}
    )
    assert r.status_code == 201
    assert r.data["kind"] == "note"
    assert (
        api.post(detail(incident, "severity"), {"severity": 1, "reason": "All regions"}).data["severity"] == 1
    )
    r = api.post(detail(incident, "roles"), {"role": "comms_lead", "user": responder.pk})
    assert r.data["comms_lead"] == responder.pk
    r = api.post(detail(incident, "take-command"))
    assert r.data["commander"] == manager.pk
    r = api.post(detail(incident, "customer-message"), {"text": "Payments may fail."})
    assert r.data["customer_message"] == "Payments may fail."
    assert r.data["customer_message_updated_at"]
    r = api.patch(detail(incident), {"title": "Payments failing", "tags": "stripe, Billing",
                                      "started_at": "2026-03-10T13:50:00Z"})  # fmt: skip
    assert r.status_code == 200
    assert r.data["title"] == "Payments failing"
    assert r.data["tags"] == "stripe, billing"
    timeline = api.get(detail(incident, "timeline")).data
    assert timeline[0]["kind"] == "note"  # back-dated to before detection


def test_list_filters_and_search(api_as, manager):
    team = TeamFactory(slug="edge")
    svc = ServiceFactory(owner_team=team)
    a = declare(actor=manager, level=1, service=svc, title="DNS outage")
    b = declare(actor=manager, level=3, title="Slow search")
    services.resolve(incident=b, actor=manager)
    api = api_as(manager)

    def ids(query):
        r = api.get(URL + query)
        assert r.status_code == 200, r.data
        return {row["id"] for row in r.data["results"]}

    assert ids("") == {a.pk, b.pk}
    assert ids("?severity=1") == {a.pk}
    assert ids("?team=edge") == {a.pk}
    assert ids(f"?service={svc.pk}") == {a.pk}
    assert ids("?status=resolved") == {b.pk}
    assert ids("?open=true") == {a.pk}
    assert ids("?open=false") == {b.pk}
    assert ids("?search=dns") == {a.pk}
    assert ids(f"?reference={a.reference}") == {a.pk}
    assert ids("?reference=nonsense") == set()
    assert ids("?detected_after=2000-01-01T00:00:00Z&detected_before=2000-01-02T00:00:00Z") == set()


@pytest.mark.parametrize("rows", [1, 30])
def test_list_query_count_is_constant(api_as, manager, django_assert_num_queries, rows):
    svc = ServiceFactory()
    for _ in range(rows):
        declare(actor=manager, service=svc)
    api = api_as(manager)
    # user permissions, group permissions, COUNT, the page with severity/commander/team/
    # primary service/roles joined, the services prefetch and the runbooks prefetch
    with django_assert_num_queries(6):
        r = api.get(URL)
    assert r.data["count"] == rows


def test_support_reads_only_open_incidents_narrowly(api_as, support_user, responder):
    shown = declare(actor=responder, title="Checkout errors", summary="internal: db failover")
    services.set_customer_message(incident=shown, actor=responder, text="Some checkouts fail.")
    done = declare(actor=responder, title="Old one")
    services.resolve(incident=done, actor=responder)
    drill = declare(actor=responder, title="Game day", drill=True)
    api = api_as(support_user)
    r = api.get(URL)
    assert r.status_code == 200
    assert [row["title"] for row in r.data["results"]] == ["Checkout errors"]
    row = r.data["results"][0]
    assert set(row) == {"id", "number", "reference", "title", "status", "services", "customer_message",
                        "customer_message_updated_at"}  # fmt: skip
    assert row["customer_message"] == "Some checkouts fail."
    r = api.get(detail(shown))
    assert r.status_code == 200
    assert "summary" not in r.data
    assert "commander" not in r.data
    assert api.get(detail(done)).status_code == 404
    assert api.get(detail(drill)).status_code == 404
    for verb in ("timeline", "updates", "timeline-markdown"):
        assert api.get(detail(shown, verb)).status_code == 403
    for verb in ("acknowledge", "resolve", "timeline", "updates"):
        assert api.post(detail(shown, verb), {"text": "x", "audience": "internal"}).status_code == 403
    assert api.post(URL, {"title": "x", "severity": 2, "services": []}).status_code == 403
    assert api.patch(detail(shown), {"title": "hacked"}).status_code == 403


def test_support_detail_takes_ascii_ids_only(api_as, support_user, responder):
    incident = declare(actor=responder, title="Checkout errors")
    api = api_as(support_user)
    api.raise_request_exception = True
    arabic_indic = str(incident.pk).translate({ord(d): 0x0660 + int(d) for d in "0123456789"})
    assert api.get(f"{URL}{arabic_indic}/").status_code == 404
    assert api.get(f"{URL}\u00b2/").status_code == 404
    assert api.get(detail(incident)).status_code == 200


@pytest.mark.parametrize("who", ["release_lead", "outsider"])
def test_permission_denials_for_other_roles(request, api_as, responder, who):
    incident = declare(actor=responder)
    api = api_as(request.getfixturevalue(who))
    can_read = who == "release_lead"
    assert api.get(URL).status_code == (200 if can_read else 403)
    assert api.get(detail(incident, "timeline")).status_code == (200 if can_read else 403)
    assert api.post(detail(incident, "acknowledge")).status_code == 403
    assert api.post(URL, {"title": "x", "severity": 2, "services": []}).status_code == 403


def test_anonymous_is_refused(api_client, responder):
    incident = declare(actor=responder)
    assert api_client.get(URL).status_code in (401, 403)
    assert api_client.post(detail(incident, "acknowledge")).status_code in (401, 403)


def test_incidents_are_never_deleted(api_as, manager, superuser, responder):
    incident = declare(actor=responder)
    assert api_as(manager).delete(detail(incident)).status_code == 403  # no delete permission
    assert api_as(superuser).delete(detail(incident)).status_code == 405  # and no delete endpoint
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_severity_guide_read_and_edit(api_as, manager, responder):
    r = api_as(responder).get("/api/v1/severities/")
    assert [row["label"] for row in r.data] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    sev3 = Severity.objects.get(level=3)
    assert (
        api_as(responder).patch(f"/api/v1/severities/{sev3.pk}/", {"ack_sla_minutes": 60}).status_code == 403
    )
    r = api_as(manager).patch(
        f"/api/v1/severities/{sev3.pk}/", {"ack_sla_minutes": 120, "update_cadence_minutes": 240}
    )
    assert r.status_code == 200
    assert r.data["ack_sla_minutes"] == 120
    r = api_as(manager).patch(f"/api/v1/severities/{sev3.pk}/", {"postmortem_required": True})
    assert r.status_code == 400
    assert "postmortem_due_business_days" in r.data
    assert Severity.objects.get(level=3).history.first().history_user == manager


def test_schema_documents_every_endpoint(manager_client):
    r = manager_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for suffix in ("", "acknowledge/", "identify/", "mitigate/", "resolve/", "reopen/", "close/", "take-command/",
                   "severity/", "roles/", "customer-message/", "timeline/", "updates/", "timeline-markdown/"):  # fmt: skip
        assert f"/api/v1/incidents/{{id}}/{suffix}" in paths
    assert "409" in paths["/api/v1/incidents/{id}/resolve/"]["post"]["responses"]
    assert "/api/v1/severities/" in paths


@pytest.mark.parametrize("rows", [1, 30])
def test_support_list_query_count_is_constant(
    api_as, support_user, responder, django_assert_num_queries, rows
):
    svc = ServiceFactory()
    with services.quiet():
        for _ in range(rows):
            declare(actor=responder, service=svc)
    api = api_as(support_user)
    # user permissions and group permissions (view_incident: no), the role check, COUNT,
    # the page of incidents (only support's columns) and the services prefetch
    with django_assert_num_queries(6):
        r = api.get(URL)
    assert r.data["count"] == rows
