"""Slack's own worked example of request signing
(https://docs.slack.dev/authentication/verifying-requests-from-slack, "Validating a request"):
this secret, timestamp and body must give exactly this signature."""

import pytest

from chat import signing

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
HEADERS = {"X-Slack-Request-Timestamp": TIMESTAMP, "X-Slack-Signature": SIGNATURE}


def test_slacks_published_example_verifies(settings):
    settings.SLACK_SIGNING_SECRET = SECRET
    assert signing.slack_signature(SECRET, TIMESTAMP, BODY) == SIGNATURE
    assert signing.verify_slack(HEADERS, BODY, now=int(TIMESTAMP) + 299)


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (HEADERS, BODY, int(TIMESTAMP) + 301, "stale timestamp"),
        (HEADERS, BODY, int(TIMESTAMP) - 301, "stale timestamp"),
        (HEADERS, BODY + b"&x=1", int(TIMESTAMP), "bad signature"),
        ({**HEADERS, "X-Slack-Signature": SIGNATURE.upper()}, BODY, int(TIMESTAMP), "bad signature"),
        ({**HEADERS, "X-Slack-Request-Timestamp": "soon"}, BODY, int(TIMESTAMP), "bad timestamp"),
        ({"X-Slack-Signature": SIGNATURE}, BODY, int(TIMESTAMP), "missing signature headers"),
    ],
)
def test_refusals(settings, headers, body, now, reason):
    settings.SLACK_SIGNING_SECRET = SECRET
    with pytest.raises(signing.Refused, match=reason):
        signing.verify_slack(headers, body, now=now)
