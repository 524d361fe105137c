import pytest

from notifications.models import Notification
from tests.notifications.factories import SlackMethodFactory, WebhookMethodFactory
from tests.receivers import make_receiver  # noqa: F401  (fixture: raw loopback receivers)

CONTEXT = {
    "title": "Checkout is down",
    "url": "/admin/incidents/incident/7/",
    "severity": "SEV-1",
    "fields": [["Service", "checkout"], ["Commander", "Maya"]],
    "actions": [["Acknowledge", "/oncall/pages/7/ack/"]],
}


@pytest.fixture
def webhook_user(httpserver):
    method = WebhookMethodFactory(url=httpserver.url_for("/hook"))
    return method.user


@pytest.fixture
def slack_user(httpserver):
    method = SlackMethodFactory(url=httpserver.url_for("/services/T0/B0/secret"))
    return method.user


def only_channel(rows, channel) -> Notification:
    [row] = [r for r in rows if r.channel == channel]
    return row
