"""Property test: whatever a browser (or a script) posts to the form, the answer is the
page with field errors (200) or a filed escalation (302) - never a 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalations.models import Escalation

pytestmark = pytest.mark.django_db

FIELDS = [
    "incident",
    "customer",
    "contact",
    "service",
    "summary",
    "impact",
    "customers_reporting",
    "started_at",
    "links",
]

text = st.text(max_size=300)  # every unicode code point, NUL and surrogates' neighbours included
plausible = {
    "incident": st.sampled_from(["new", "", "0", "-1", "99999999999999999999", "1"]) | text,
    "service": st.sampled_from(["", "not-sure", "1", "0", "1e9", "9" * 30]) | text,
    "impact": st.sampled_from(["blocked", "degraded", "question", "", "BLOCKED"]) | text,
    "customers_reporting": st.integers(min_value=-(10**20), max_value=10**20).map(str) | text,
    "started_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M"))
    | st.sampled_from(["", "0000-00-00T00:00", "9999-12-31T23:59", "2026-03-29T02:30", "2026-10-25T02:30"])
    | text,
    "links": st.lists(
        st.sampled_from(["https://ok.example.com/a", "http://[::1", "javascript:alert(1)"]) | text,
        max_size=12,
    ).map("\n".join),
}


def field_strategy(name):
    return st.one_of(st.none(), plausible.get(name, text))


form_data = st.fixed_dictionaries({name: field_strategy(name) for name in FIELDS}).map(
    lambda d: {k: v for k, v in d.items() if v is not None}
)


@pytest.fixture
def service(db):
    from tests.escalations.factories import paged_service

    return paged_service(name="Checkout")


def test_random_form_data_is_200_or_302_never_500(client, support_user, service, settings_fixture_high_limit):
    client.force_login(support_user)
    client.raise_request_exception = True  # a server error fails the test with its traceback

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=form_data)
    def check(data):
        before = Escalation.objects.count()
        response = client.post("/support/escalate/", data)
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:
            assert response.context["form"].errors
            assert Escalation.objects.count() == before
        else:
            assert Escalation.objects.count() == before + 1

    check()


def test_random_api_bodies_are_400_or_201_never_500(support_user, service, settings_fixture_high_limit):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(support_user)
    api.raise_request_exception = True
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
        max_leaves=8,
    )
    bodies = st.dictionaries(st.sampled_from(FIELDS), json_values)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies)
    def check(body):
        response = api.post("/api/v1/escalations/", body, format="json")
        assert response.status_code in (201, 400), (response.status_code, response.content[:300])

    check()


@pytest.fixture
def settings_fixture_high_limit(settings):
    settings.ESCALATIONS_RATE_LIMIT = "100000/m"
    from escalations.models import SupportSettings

    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)  # each example files anew
