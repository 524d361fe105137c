"""The status page shows a component's uptime from its availability SLO when set."""

from datetime import timedelta

import pytest
from django.utils import timezone

from opsportal.errors import InvalidInput
from slos.models import SLO
from status import selectors as status_selectors
from status import services as status_services
from tests.slos.conftest import make_slo, steady, write

pytestmark = pytest.mark.django_db


def test_component_uptime_from_its_slo(manager):
    slo = make_slo(objective="99", kind=SLO.Kind.PUSHED_EVENTS)
    now = timezone.now()
    yesterday = (now - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    write(slo, steady(yesterday, 60, total=100, bad=3))  # 97 % yesterday
    plain = status_services.save_component(actor=manager, service=slo.service, name="Checkout")
    history = status_selectors.daily_history([plain], now=now)
    assert history[plain.pk]["uptime"] is None  # no probes: no raw data
    component = status_services.save_component(
        actor=manager, service=slo.service, name="Checkout", uptime_slo=slo
    )
    history = status_selectors.daily_history([component], now=now)
    assert history[component.pk]["uptime"] == 97.0
    assert history[component.pk]["days"][-2]["uptime"] == 97.0
    other = make_slo(name="Elsewhere")
    with pytest.raises(InvalidInput, match="component's service"):
        status_services.save_component(actor=manager, service=slo.service, name="Checkout", uptime_slo=other)
