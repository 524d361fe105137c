"""/api/v1/escalations/: create and list own, with the form's validation and rate limit."""

import pytest
from django.utils import timezone

from accounts import roles
from escalations.models import Escalation
from incidents.models import Incident
from tests.escalations.factories import file, paged_service, run_dispatch
from tests.factories import UserFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db
URL = "/api/v1/escalations/"


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


def body(target, **overrides):
    service = target
    data = {
        "customer": "acme-corp",
        "contact": "ops@acme.example",
        "service": service.pk if service else None,
        "summary": "Checkout fails",
        "impact": "degraded",
        "customers_reporting": 2,
        "links": ["https://support.example.com/t/1"],
    }
    data.update(overrides)
    return data


def test_create_and_list_own(api_as, support_user, service):
    api = api_as(support_user)
    started = timezone.now().replace(microsecond=0) - timezone.timedelta(minutes=10)
    response = api.post(URL, body(service, started_at=started.isoformat()), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["reference"].startswith("ESC-")
    assert data["status"] == "new"
    assert data["service_name"] == "Checkout"
    escalation = run_dispatch(Escalation.objects.get())
    assert escalation.started_at == started
    assert escalation.page is not None
    other = UserFactory(username="tess", roles=[roles.SUPPORT])
    file(other, service=service, customer="not-mine")
    listing = api.get(URL).json()
    assert [row["customer"] for row in listing["results"]] == ["acme-corp"]
    assert api.get(f"{URL}{Escalation.objects.get(customer='not-mine').pk}/").status_code == 404


def test_not_sure_and_attach_to_incident(api_as, support_user, responder, service):
    api = api_as(support_user)
    assert api.post(URL, body(None), format="json").status_code == 201
    incident = declare(actor=responder, level=2, service=service)
    response = api.post(URL, body(None, incident=incident.pk, customers_reporting=4), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "linked"
    assert response.json()["incident"] == incident.reference
    incident.refresh_from_db()
    assert incident.reported_customers == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer", ""), ("customer", "x" * 201), ("contact", ""), ("summary", "z" * 5001), ("impact", "meh"),
        ("customers_reporting", 0), ("customers_reporting", 100001), ("service", 999999), ("service", "abc"),
        ("started_at", "2999-01-01T00:00:00Z"), ("started_at", "garbage"), ("links", ["not a url"]),
        ("links", [f"https://e.example.com/{i}" for i in range(11)]), ("incident", 424242),
    ],
)  # fmt: skip
def test_same_validation_as_the_form(api_as, support_user, service, field, value):
    response = api_as(support_user).post(URL, body(service, **{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Escalation.objects.count() == 0


def test_rate_limit_is_shared_with_the_form(api_as, client, support_user, service, settings):
    settings.ESCALATIONS_RATE_LIMIT = "2/m"
    api = api_as(support_user)
    assert api.post(URL, body(service), format="json").status_code == 201
    client.force_login(support_user)
    client.post("/support/escalate/", {"customer": "x"})  # counts too (invalid, but a submission)
    response = api.post(URL, body(service), format="json")
    assert response.status_code == 429
    assert "Please wait a minute" in response.json()["detail"]


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("support_user", 200), ("manager", 200), ("responder", 200), ("release_lead", 200), ("outsider", 403)],
)
def test_permissions(api_as, request, actor, expected):
    assert api_as(request.getfixturevalue(actor)).get(URL).status_code == expected


def test_anonymous_is_refused(api_client):
    assert api_client.get(URL).status_code == 401


def test_list_query_count_is_constant(api_as, support_user, responder, service, django_assert_num_queries):
    from escalations import services
    from escalations.models import SupportSettings

    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)
    api = api_as(support_user)
    services.open_incident(escalation=file(support_user, service=service), actor=responder)
    # COUNT, the page of rows with service/acknowledger/resolver/incident joined (the
    # user's role groups are cached on the authenticated user object)
    with django_assert_num_queries(2):
        api.get(URL)
    for n in range(8):
        e = file(support_user, service=service, customer=f"c{n}")
        if n % 2:
            services.resolve(escalation=e, actor=responder, reply="done")
    with django_assert_num_queries(2):
        api.get(URL)
    assert Incident.objects.count() == 1


def test_schema_documents_the_endpoint(api_as, manager):
    schema = api_as(manager).get("/api/v1/schema/?format=json").json()
    create = schema["paths"]["/api/v1/escalations/"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/EscalationCreateRequest")
