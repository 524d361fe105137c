"""Parsers, without the database: times, severities, paths, e-mail subjects, bad input."""

from datetime import UTC, datetime

import pytest

from alerts import sources


def test_parse_time_go_nanoseconds_and_zero_time():
    assert sources.parse_time("2026-03-03T09:58:00.123456789Z") == datetime(
        2026, 3, 3, 9, 58, 0, 123456, tzinfo=UTC
    )
    assert sources.parse_time("2026-03-03T10:58:00+01:00") == datetime(2026, 3, 3, 9, 58, tzinfo=UTC)
    assert sources.parse_time("0001-01-01T00:00:00Z") is None
    with pytest.raises(sources.ParseError, match="RFC 3339"):
        sources.parse_time("yesterday")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("critical", "critical"), ("P1", "critical"), ("warn", "warning"), ("info", "info"), ("", "critical"),
     ("weird", "warning"), (None, "critical")],
)  # fmt: skip
def test_severity_aliases(given, expected):
    assert sources.normalise_severity(given) == expected


def test_extract_paths():
    data = {"a": {"b": [{"c": 1}]}, "key with spaces": "x"}
    assert sources.extract(data, "$.a.b[0].c") == 1
    assert sources.extract(data, '$["key with spaces"]') == "x"
    assert sources.extract(data, "$.a.b[5].c") is None
    assert sources.extract(data, "$.missing.deeper") is None
    assert sources.validate_mapping({"summary": "$.a"}) == []
    assert sources.validate_mapping({"summary": "a.b"})
    assert sources.validate_mapping(["not", "a", "dict"])


@pytest.mark.parametrize(
    ("subject", "action", "summary"),
    [("PROBLEM: Disk full", "trigger", "Disk full"), ("RESOLVED: Disk full", "resolve", "Disk full"),
     ("[OK] Disk full", "resolve", "Disk full"), ("Re: Fwd: ACK: Disk full", "trigger", "Disk full"),
     ("ACK: Disk full", "acknowledge", "Disk full")],
)  # fmt: skip
def test_email_subjects(subject, action, summary):
    [p] = sources.parse_email(subject, "Severity: warning\nDedup-Key: disk-1\n")
    assert (p.action, p.summary, p.severity, p.dedup_key) == (action, summary, "warning", "disk-1")


def test_email_same_subject_same_key():
    [a] = sources.parse_email("PROBLEM: Disk full on db1", "")
    [b] = sources.parse_email("RESOLVED: Disk full on db1", "")
    assert a.dedup_key == b.dedup_key
    with pytest.raises(sources.ParseError):
        sources.parse_email("", "body")


@pytest.mark.parametrize(
    "payload",
    [[], {"alerts": "x"}, {"alerts": [1]}, {"alerts": [{"status": "weird"}]}, {"version": "3", "alerts": []},
     {"alerts": [{"labels": ["not", "a", "dict"]}]}, {"alerts": [{"startsAt": 5}]}],
)  # fmt: skip
def test_alertmanager_bad_payloads(payload):
    with pytest.raises(sources.ParseError):
        sources.parse_alertmanager(payload)


def test_too_many_alerts_refused():
    with pytest.raises(sources.ParseError, match="At most"):
        sources.parse_alertmanager({"alerts": [{"fingerprint": str(i)} for i in range(1001)]})


def test_pagerduty_links_and_custom_details():
    [p] = sources.parse_pagerduty({
        "event_action": "trigger", "dedup_key": "k",
        "payload": {"summary": "s", "source": "db1", "severity": "warning", "component": "postgres",
                    "custom_details": {"free_space": "1%", "runbook_url": "https://rb.example.com/x"}},
        "links": [{"href": "javascript:alert(1)", "text": "bad"}, {"href": "https://grafana.example.com", "text": "G"}],
    })  # fmt: skip
    assert p.labels == {"source": "db1", "component": "postgres", "custom.free_space": "1%",
                        "custom.runbook_url": "https://rb.example.com/x"}  # fmt: skip
    assert p.links == [{"href": "https://grafana.example.com", "text": "G"}]
    assert p.runbook_url == "https://rb.example.com/x"
