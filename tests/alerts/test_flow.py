"""The alert life through the HTTP endpoints: Alertmanager and PagerDuty Events v2 sequences,
grouping, routing explanations, incidents by rule, maintenance, take-over and storms.

Payloads follow the vendors' published documentation:
- Alertmanager webhook v4: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- Grafana webhook contact point: https://grafana.com/docs/grafana/latest/alerting/configure-notifications/
  manage-contact-points/integrations/webhook-notifier/ (the "Webhook JSON payload" example)
- PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and the
  "Send Event" responses of PagerDuty/api-schema reference/events-v2/openapiv3.json
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from alerts import services
from alerts.models import Alert, AlertGroup, Integration, RawPayload
from alerts.services import integrations
from incidents.models import TimelineEvent
from notifications.models import Notification
from oncall.models import Page
from probes.models import MaintenanceWindow
from tests.alerts.conftest import am_payload, page_messages, pages_of

pytestmark = pytest.mark.django_db(transaction=False)


def post(client, url, body, content_type="application/json"):
    return client.post(url, data=body, content_type=content_type)


def am_url(key):
    return f"/integrations/{key}/alertmanager"


def test_alertmanager_fire_ack_repeat_resolve(
    client, world, make_integration, django_capture_on_commit_callbacks
):
    _integration, key = make_integration()
    with django_capture_on_commit_callbacks(execute=True):
        r = post(client, am_url(key), am_payload(runbook_url="https://runbooks.example.com/error-rate"))
    assert r.status_code == 202, r.content
    assert r.json() == {"status": "success", "alerts": 1}
    group = AlertGroup.objects.get()
    assert group.status == "firing"
    assert group.disposition == "paged"
    assert group.started_at == datetime(2026, 3, 3, 9, 58, 0, 123456, tzinfo=UTC)  # startsAt, not arrival
    [page] = pages_of(world["service"])
    assert group.page == page
    assert page.subject == group
    [message] = page_messages(page)
    assert "Runbook: https://runbooks.example.com/error-rate" in message.body
    assert "alertname=HighErrorRate" in message.body
    assert "Prometheus Alertmanager" in message.body
    ack = re.search(r"https://ops\.example\.com(/oncall/ack/\S+/)", message.body).group(1)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(ack).status_code in (200, 302)
    group.refresh_from_db()
    page.refresh_from_db()
    assert page.status == "acknowledged"
    assert group.status == "acknowledged"

    # Alertmanager resends on its repeat interval: counted, nobody paged again.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, am_url(key), am_payload()).status_code == 202
    assert len(pages_of(world["service"])) == 1
    assert Alert.objects.get().occurrences == 2
    assert len(page_messages(page)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, am_url(key), am_payload("resolved")).status_code == 202
    group.refresh_from_db()
    page.refresh_from_db()
    assert group.status == "resolved"
    assert page.status == "resolved"
    assert Alert.objects.get().status == "resolved"
    assert RawPayload.objects.filter(outcome="parsed").count() == 3


def test_alerts_sharing_group_key_fold_into_one_group(client, world, make_integration):
    _, key = make_integration()
    for fp in ("a", "b", "c"):
        assert post(client, am_url(key), am_payload(fingerprint=fp)).status_code == 202
    assert Alert.objects.count() == 3
    group = AlertGroup.objects.get()
    assert group.alert_count == 3
    assert len(pages_of(world["service"])) == 1
    # one resolves: the group stays firing; all resolve: it resolves
    post(client, am_url(key), am_payload("resolved", fingerprint="a"))
    group.refresh_from_db()
    assert group.status == "firing"
    for fp in ("b", "c"):
        post(client, am_url(key), am_payload("resolved", fingerprint=fp))
    group.refresh_from_db()
    assert group.status == "resolved"
    assert group.page.status == "resolved"


def test_group_by_labels(client, world, make_integration):
    _, key = make_integration(group_by="instance")
    post(client, am_url(key), am_payload(fingerprint="x", alertname="A"))
    post(client, am_url(key), am_payload(fingerprint="y", alertname="B"))  # same instance label
    assert AlertGroup.objects.get().group_key == "labels:instance=web-1"


def pd(action, dedup_key=None, **payload):
    body = {"routing_key": "ignored-here", "event_action": action}
    if dedup_key:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {"summary": "Disk full on db1", "source": "db1.example.com", "severity": "critical",
                           "timestamp": "2026-03-03T09:00:00.000+0000", **payload}  # fmt: skip
        body["links"] = [{"href": "https://runbooks.example.com/disk", "text": "Runbook"}]
    return json.dumps(body)


def test_pagerduty_trigger_acknowledge_resolve(
    client, world, make_integration, django_capture_on_commit_callbacks
):
    _, key = make_integration(Integration.Kind.PAGERDUTY)
    url = f"/integrations/{key}/v2/enqueue"
    with django_capture_on_commit_callbacks(execute=True):
        r = post(client, url, pd("trigger", "disk-db1"))
    assert r.status_code == 202
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-db1"}
    group = AlertGroup.objects.get()
    assert group.runbook_url == "https://runbooks.example.com/disk"
    [page] = pages_of(world["service"])
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, url, pd("acknowledge", "disk-db1")).status_code == 202
    page.refresh_from_db()
    group.refresh_from_db()
    assert group.status == "acknowledged"
    assert page.status == "acknowledged"
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, url, pd("trigger", "disk-db1")).status_code == 202
    assert len(pages_of(world["service"])) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, url, pd("resolve", "disk-db1")).status_code == 202
    page.refresh_from_db()
    group.refresh_from_db()
    assert group.status == "resolved"
    assert page.status == "resolved"


def test_pagerduty_errors_in_pagerduty_shape(client, world, make_integration):
    _, key = make_integration(Integration.Kind.PAGERDUTY)
    url = f"/integrations/{key}/v2/enqueue"
    r = post(client, url, "{not json")
    assert r.status_code == 400
    assert r.json()["status"] == "invalid event"
    assert r.json()["errors"]
    r = post(client, url, json.dumps({"event_action": "trigger", "payload": {"summary": "x"}}))
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert any("payload.source" in e for e in errors)
    assert any("payload.severity" in e for e in errors)
    r = post(client, url, json.dumps({"event_action": "resolve"}))
    assert r.status_code == 400
    assert "dedup_key" in r.json()["errors"][0]
    # a trigger without dedup_key gets one, returned like PagerDuty does
    r = post(client, url, pd("trigger"))
    assert r.status_code == 202
    assert len(r.json()["dedup_key"]) == 32
    assert post(client, "/integrations/nope/v2/enqueue", pd("trigger")).json()["status"] == "invalid event"


def test_malformed_payload_is_kept_and_owner_told(client, world, make_integration):
    world["team"].email = "payments@example.com"
    world["team"].save()
    integration, key = make_integration()
    r = post(client, am_url(key), b'{"alerts": "nope"}')
    assert r.status_code == 400
    assert "alerts[]" in r.json()["detail"]
    r = post(client, am_url(key), b"\xff\xfe not json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("The body is not valid JSON")
    stored = RawPayload.objects.filter(integration=integration, outcome="unparsed")
    assert stored.count() == 2
    # the team (its address and its manager) told once for both payloads, not once per payload
    told = Notification.objects.filter(event_key__startswith=f"alerts:unparsed:{integration.pk}:")
    assert told.count() == 2
    assert Alert.objects.count() == 0


def test_keys_unknown_revoked_rotated(client, world, make_integration, manager):
    integration, key = make_integration()
    assert integration.key_digest != key
    assert key not in integration.key_hint + integration.key_digest
    assert post(client, am_url("0" * 40), am_payload()).status_code == 404
    assert post(client, am_url(key.upper()), am_payload()).status_code == 202  # hex keys: case-insensitive
    new = integrations.rotate_key(integration=integration, actor=manager)
    assert post(client, am_url(key), am_payload()).status_code == 404
    assert post(client, am_url(new), am_payload()).status_code == 202
    integrations.revoke_integration(integration=integration, actor=manager)
    r = post(client, am_url(new), am_payload())
    assert r.status_code == 404
    assert r.json() == {"detail": "Unknown or revoked integration key."}
    assert client.get(am_url(new)).status_code == 405
    assert post(client, f"/integrations/{new}/grafana", am_payload()).status_code == 404


def test_size_cap_and_rate_limit(client, world, make_integration, settings):
    settings.ALERTS_MAX_PAYLOAD_BYTES = 2048
    _integration, key = make_integration(rate_limit_per_minute=3)
    r = post(client, am_url(key), json.dumps({"pad": "x" * 5000}))
    assert r.status_code == 413
    assert "2048" in r.json()["detail"]
    codes = [post(client, am_url(key), am_payload()).status_code for _ in range(5)]
    assert codes[-1] == 429
    assert 202 in codes
    r = post(client, am_url(key), am_payload())
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 61
    assert "retry later" in r.json()["detail"]


def grafana_payload(state="alerting"):
    """Grafana's documented webhook example (unified alerting), trimmed."""
    status = "firing" if state == "alerting" else "resolved"
    return json.dumps({
        "receiver": "ops-portal", "status": status, "orgId": 1,
        "alerts": [{
            "status": status, "labels": {"alertname": "High CPU", "grafana_folder": "Prod", "team": "web"},
            "annotations": {"summary": "CPU over 90% on web-1", "runbook_url": "https://runbooks.example.com/cpu"},
            "startsAt": "2026-03-03T09:30:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/abc/view", "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example.com/alerting/silence/new", "dashboardURL": "", "panelURL": "",
            "values": {"B": 93.1}, "valueString": "[ var='B' labels={} value=93.1 ]",
        }],
        "groupLabels": {"alertname": "High CPU"}, "commonLabels": {"alertname": "High CPU"},
        "commonAnnotations": {}, "externalURL": "https://grafana.example.com/", "version": "1",
        "groupKey": '{}:{alertname="High CPU"}', "truncatedAlerts": 0, "title": "[FIRING:1] High CPU",
        "state": state, "message": "**Firing**",
    })  # fmt: skip


def test_grafana_fire_and_resolve(client, world, make_integration):
    _, key = make_integration(Integration.Kind.GRAFANA)
    assert post(client, f"/integrations/{key}/grafana", grafana_payload()).status_code == 202
    alert = Alert.objects.get()
    assert alert.summary == "CPU over 90% on web-1"
    assert alert.runbook_url == "https://runbooks.example.com/cpu"
    assert "value=93.1" in alert.details
    assert alert.severity == "critical"  # no severity label: critical, like PagerDuty's Grafana integration
    assert AlertGroup.objects.get().disposition == "paged"
    post(client, f"/integrations/{key}/grafana", grafana_payload("ok"))
    assert AlertGroup.objects.get().status == "resolved"


def test_generic_mapping_and_validation(client, world, make_integration):
    mapping = {"dedup_key": "$.check.id", "summary": "$.check.title", "status": "$.state", "severity": "$.level",
               "labels": "$.tags", "runbook_url": '$["runbook link"]'}  # fmt: skip
    _, key = make_integration(Integration.Kind.GENERIC, field_mapping=mapping)
    body = {"check": {"id": "q-lag", "title": "Queue lag 7 min"}, "state": "alerting", "level": "critical",
            "tags": ["emails", "eu"], "runbook link": "https://runbooks.example.com/queue"}  # fmt: skip
    assert post(client, f"/integrations/{key}/generic", json.dumps(body)).status_code == 202
    alert = Alert.objects.get()
    assert (alert.dedup_key, alert.summary, alert.labels) == (
        "q-lag",
        "Queue lag 7 min",
        {"emails": "true", "eu": "true"},
    )
    assert alert.runbook_url == "https://runbooks.example.com/queue"
    body["state"] = "ok"
    post(client, f"/integrations/{key}/generic", json.dumps(body))
    assert Alert.objects.get().status == "resolved"
    from opsportal.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a path"):
        integrations.create_integration(actor=None, service=world["service"], name="bad", kind="generic",
                                    field_mapping={"summary": "title"})  # fmt: skip
    with pytest.raises(InvalidInput, match="Unknown field"):
        integrations.create_integration(actor=None, service=world["service"], name="bad", kind="generic",
                                    field_mapping={"colour": "$.c"})  # fmt: skip


def test_routing_rules_explained(client, world, make_integration):
    rules = [
        {"match": {"labels": {"team": "search"}}, "urgency": "drop"},
        {"match": {"severity": "critical", "labels": {"alertname": "HighErrorRate"}}, "urgency": "page"},
    ]
    _, key = make_integration(rules=rules)
    post(client, am_url(key), am_payload())
    group = AlertGroup.objects.get()
    assert (
        group.decision
        == "matched rule 2: severity=critical, alertname=HighErrorRate -> page Payments primary"
    )
    assert Alert.objects.get().decision == group.decision


def test_bad_rules_refused(world):
    from opsportal.errors import InvalidInput

    for rules, message in [
        ("nope", "must be a list"),
        ([{"match": {"severity": "bad"}}], "unknown severity"),
        ([{"urgency": "incident"}], "needs an incident severity"),
        ([{"service": 999999}], "no service"),
        ([{"colour": 1}], "unknown keys"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            integrations.create_integration(actor=None, service=world["service"], name="x", kind="alertmanager",
                                        rules=rules)  # fmt: skip


def test_incident_rule_then_attach(client, world, make_integration, django_capture_on_commit_callbacks):
    _, key = make_integration(severity_map={"critical": "incident"}, incident_severity=2)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, am_url(key), am_payload(runbook_url="https://runbooks.example.com/e"))
    group = AlertGroup.objects.get()
    incident = group.incident
    assert group.disposition == "incident"
    assert incident.detection_source == "monitoring"
    assert incident.detected_at == datetime(2026, 3, 3, 9, 58, 0, 123456, tzinfo=UTC)
    assert "https://runbooks.example.com/e" in incident.summary
    assert group.page is not None  # the incident's own page at a paging severity, or ours
    pages = len(pages_of(world["service"]))
    # another alert group on the same service: onto the incident's timeline, no new page
    with django_capture_on_commit_callbacks(execute=True):
        post(client, am_url(key), am_payload(fingerprint="other", alertname="Latency"))
    other = AlertGroup.objects.exclude(pk=group.pk).get()
    assert other.disposition == "attached"
    assert other.incident == incident
    assert len(pages_of(world["service"])) == pages
    assert TimelineEvent.objects.filter(incident=incident, kind="alert").exists()


def test_maintenance_window_silences_but_records(client, world, make_integration):
    now = datetime.now(UTC)
    MaintenanceWindow.objects.create(service=world["service"], reason="upgrade", starts_at=now - timedelta(hours=1),
                                     ends_at=now + timedelta(hours=1))  # fmt: skip
    _, key = make_integration()
    post(client, am_url(key), am_payload())
    group = AlertGroup.objects.get()
    assert group.disposition == "silenced"
    assert "maintenance" in group.decision
    assert Page.objects.count() == 0
    assert Alert.objects.count() == 1


def test_taken_over_group_is_not_auto_resolved(client, world, make_integration, responder):
    _, key = make_integration()
    post(client, am_url(key), am_payload())
    group = AlertGroup.objects.get()
    services.take_over(group=group, actor=responder)
    post(client, am_url(key), am_payload("resolved"))
    group.refresh_from_db()
    assert group.status == "acknowledged"
    assert group.taken_over_by == responder
    assert Alert.objects.get().status == "resolved"
    services.resolve_group(group=group, actor=responder)
    group.refresh_from_db()
    assert group.status == "resolved"
    assert group.page.status == "resolved"


def test_storm_500_distinct_alerts_one_storm_page(
    client, world, make_integration, django_capture_on_commit_callbacks
):
    _integration, key = make_integration(Integration.Kind.PAGERDUTY, storm_threshold=10)
    url = f"/integrations/{key}/v2/enqueue"
    # all 500 within the same minute, however slow the machine running the test is
    with time_machine.travel(datetime.now(UTC), tick=False), django_capture_on_commit_callbacks(execute=True):
        for i in range(500):
            assert post(client, url, pd("trigger", f"host-{i}")).status_code == 202
    assert Alert.objects.count() == 500
    assert AlertGroup.objects.filter(is_storm=False).count() == 500
    storm = AlertGroup.objects.get(is_storm=True)
    assert AlertGroup.objects.filter(storm=storm).count() == 490
    assert AlertGroup.objects.filter(disposition="paged", is_storm=False).count() == 10
    storm_pages = Page.objects.filter(dedup_key=f"alerts:group:{storm.pk}")
    assert storm_pages.count() == 1
    assert Page.objects.count() == 11  # the 10 under the threshold, then one for the storm
    assert storm.alert_count == 490 or AlertGroup.objects.get(pk=storm.pk).alert_count == 490


def test_api_list_ack_resolve(world, make_integration, client, api_as, responder, release_lead,
                              django_assert_num_queries):  # fmt: skip
    _, key = make_integration()
    for fp in range(3):
        post(client, am_url(key), am_payload(fingerprint=str(fp), group_key=f"g{fp}"))
    api = api_as(responder)
    # session user + groups/permissions, count, the page of groups with joins
    with django_assert_num_queries(4):
        r = api.get("/api/v1/alert-groups/")
    assert r.status_code == 200
    assert r.json()["count"] == 3
    group_id = r.json()["results"][0]["id"]
    r = api.post(f"/api/v1/alert-groups/{group_id}/acknowledge/")
    assert r.status_code == 200
    assert r.json()["status"] == "acknowledged"
    assert api.post(f"/api/v1/alert-groups/{group_id}/acknowledge/").status_code == 409
    r = api.post(f"/api/v1/alert-groups/{group_id}/resolve/", {"reason": "fixed"})
    assert r.status_code == 200
    assert r.json()["status"] == "resolved"
    assert AlertGroup.objects.get(pk=group_id).page.status == "resolved"
    assert api_as(release_lead).post(f"/api/v1/alert-groups/{group_id}/resolve/").status_code == 403
    assert api.get("/api/v1/alerts/").json()["count"] == 3


def test_prune_payloads_keeps_recent(world, make_integration, settings):
    from alerts import tasks

    settings.ALERTS_PAYLOAD_RETENTION_DAYS = 30
    integration, _ = make_integration()
    now = datetime.now(UTC)
    for days in (1, 29, 31, 90):
        services.record_payload(integration=integration, body=b"{}", content_type="application/json",
                                outcome="parsed", now=now - timedelta(days=days))  # fmt: skip
    assert tasks.prune_payloads() == 2
    assert RawPayload.objects.count() == 2
    assert tasks.prune_payloads() == 0


def test_sample_tester_writes_nothing(world, make_integration, manager_client):
    integration, _ = make_integration(Integration.Kind.GENERIC)
    url = f"/admin/alerts/integration/{integration.pk}/sample/"
    r = manager_client.post(url, {"sample": json.dumps({"summary": "Queue lag", "severity": "warning"})})
    assert r.status_code == 200
    assert b"no rule matched; severity warning -&gt; notify Billing API&#x27;s team" in r.content
    r = manager_client.post(url, {"sample": "{nope"})
    assert b"not valid JSON" in r.content
    assert Alert.objects.count() == 0
    assert RawPayload.objects.count() == 0


def test_admin_create_shows_key_once(world, manager_client):
    r = manager_client.post("/admin/alerts/integration/add/", {
        "service": world["service"].pk, "name": "Prom", "kind": "alertmanager", "severity_map": "{}",
        "rules": "[]", "group_by": "", "field_mapping": "{}", "rate_limit_per_minute": 600, "storm_threshold": 10,
    }, follow=True)  # fmt: skip
    assert r.status_code == 200
    key = re.search(rb"/integrations/([0-9a-f]{40})/alertmanager", r.content).group(1).decode()
    integration = Integration.objects.get()
    assert integrations.integration_for_key(key) == integration
    page = manager_client.get(f"/admin/alerts/integration/{integration.pk}/change/")
    assert key.encode() not in page.content
    assert integration.key_hint.encode() in page.content
    r = manager_client.post("/admin/alerts/integration/add/", {
        "service": world["service"].pk, "name": "Bad", "kind": "alertmanager", "severity_map": '{"critical": "x"}',
        "rules": "[]", "group_by": "", "field_mapping": "{}", "rate_limit_per_minute": 600, "storm_threshold": 10,
    })  # fmt: skip
    assert r.status_code == 200
    assert b"Unknown urgency" in r.content
    assert Integration.objects.count() == 1


def test_open_incident_from_group_and_room_panel(client, world, make_integration, responder, manager_client):
    from django.template.loader import render_to_string

    from alerts import selectors

    _, key = make_integration()
    post(client, am_url(key), am_payload(runbook_url="https://runbooks.example.com/e"))
    group = AlertGroup.objects.get()
    r = manager_client.post(
        "/admin/alerts/alertgroup/", {"action": "open_incident", "_selected_action": [group.pk]}
    )
    assert r.status_code == 302
    group.refresh_from_db()
    incident = group.incident
    assert incident.detection_source == "monitoring"
    assert incident.detected_at == group.started_at
    with pytest.raises(services.Conflict):
        services.open_incident(group=group, actor=responder)
    groups = selectors.groups_for_incident(incident)
    assert groups == [group]
    html = render_to_string("alerts/_incident_panel.html", {"groups": groups})
    assert group.title in html
    assert "https://runbooks.example.com/e" in html
