"""The API contract, checked in CI: schemathesis fuzzes every operation of /api/v1/schema/.

The schema is the one /api/v1/schema/ serves (``test_served_schema_is_the_fuzzed_one`` holds
them equal). Requests run in-process through Django's WSGI handler, against the demo
organisation (``seed_demo``, loaded once per module inside a transaction that is rolled back
at the end, and each operation's writes rolled back after it). Every response must pass:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status code is documented for the operation;
- ``content_type_conformance``: so is its media type (JSON errors, not Django's HTML pages);
- ``response_headers_conformance``: documented headers are present and valid;
- ``response_schema_conformance``: the body matches the documented schema.

Passes: every operation as a superuser (everything allowed: the success shapes), again as a
responder (a low-privilege role: the 403s), and a stateful run that chains operations
through the links schemathesis infers (create, then read/act on what was created). Examples
are derandomized, so a failure reproduces on every run. The checks are shown to bite in
``test_contract_check_catches_a_schema_violation`` and ``..._a_server_error``.

Tuning (environment): ``CONTRACT_MAX_EXAMPLES`` (default 20 per operation for the superuser
pass, a quarter of that for the responder); ``CONTRACT_COVERAGE=1`` adds schemathesis's
coverage phase (boundary values, missing fields, wrong types: about ten times the requests;
run it before a release or after a large API change).
"""

from __future__ import annotations

import copy
import io
import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from accounts.services import create_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "20"))
COVERAGE_PHASE = os.environ.get("CONTRACT_COVERAGE", "") == "1"
# The demo logins: admin is a superuser, ravi a responder (see opsportal/management/commands/seed_demo.py).
SUPERUSER, RESPONDER = "admin", "ravi"


def _document() -> dict:
    """The schema exactly as /api/v1/schema/ renders it (same generator, same renderer)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


class InProcessWSGI(WSGIHandler):
    """Django's WSGI handler, run the way Django's test client runs it: the request shares the
    test's database connection and transaction, so the handler's request_started/finished
    must not close that connection (Django's ClientHandler disconnects the same receiver)."""

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = super().__call__(environ, start_response)
            body = b"".join(response)  # streaming responses (CSV) read inside the transaction
            response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return [body]


def _config(max_examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                # credentials are ours to send; generated ones would only test the 401 path
                "with-security-parameters": False,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "fuzzing": {"enabled": True},
                "coverage": {"enabled": COVERAGE_PHASE},
                "stateful": {"enabled": True, "max-steps": 8},
            },
        }
    )


def _schema(document: dict, max_examples: int):
    # a copy: schemathesis writes the links it infers into the dict it is given
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(document), config=_config(max_examples))
    loaded.app = InProcessWSGI()
    return loaded


DOCUMENT = _document()
schema = _schema(DOCUMENT, MAX_EXAMPLES)
RESPONDER_EXAMPLES = max(1, MAX_EXAMPLES // 4)  # mostly 403s: a few examples show them
responder_schema = _schema(DOCUMENT, RESPONDER_EXAMPLES)

HYPOTHESIS = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "phases": [Phase.explicit, Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker):
    """The demo organisation and API tokens for its superuser and responder, for the whole
    module: loaded in a transaction that is rolled back when the module is done (each test's
    own writes are rolled back after it by the ``db`` fixture's savepoint)."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(DEBUG=True):
                call_command("seed_demo", stdout=io.StringIO())
            keys = {}
            for name in (SUPERUSER, RESPONDER):
                user = User.objects.get(username=name)
                keys[name] = create_token(user=user, actor=user, name="API contract test")[1]
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield keys
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def _auth(tokens, username: str) -> dict:
    return {"Authorization": f"Token {tokens[username]}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_contract_as_superuser(case, tokens, db):
    case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)


@responder_schema.parametrize()
@settings(max_examples=RESPONDER_EXAMPLES, **HYPOTHESIS)
def test_contract_as_responder(case, tokens, db):
    case.call_and_validate(headers=_auth(tokens, RESPONDER), checks=CHECKS)


def test_contract_stateful(tokens, db):
    """Chains of calls along the links schemathesis infers from the schema (an id a POST
    returns feeds the GET, PATCH, DELETE and actions of that resource)."""
    headers = _auth(tokens, SUPERUSER)

    class Machine(schema.as_state_machine()):
        # Each chain starts from the same data: a chain that deleted a policy would otherwise
        # change what the next chain's links can draw from, which hypothesis refuses as an
        # inconsistent strategy (FlakyStrategyDefinition).
        def __init__(self):
            super().__init__()
            self._savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self._savepoint)
            super().teardown()

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=headers)

    run_state_machine_as_test(
        Machine,
        settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=8, **HYPOTHESIS),
    )


def test_served_schema_is_the_fuzzed_one(api_as, superuser):
    response = api_as(superuser).get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert json.loads(response.content) == DOCUMENT


def test_every_operation_documents_its_errors():
    operations = [
        (path, method, op)
        for path, item in DOCUMENT["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 140
    assert set(DOCUMENT["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    for path, method, op in operations:
        assert op["security"] == [{"tokenAuth": []}, {"cookieAuth": []}], (method, path)
        codes = set(op["responses"])
        assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method != "get":
            assert {"400", "409"} <= codes, (method, path)
        for code in codes - {"200", "201", "202", "204"}:
            assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].startswith(
                "#/components/schemas/"
            ), (method, path, code)


# --- the check is alive -----------------------------------------------------------------
def _one_case(document: dict, method: str, path: str, **parts):
    operation = _schema(document, 1)[path][method]
    return operation.Case(**parts)


def test_contract_check_catches_a_schema_violation(tokens, db):
    """Break one cell of the schema (Team.service_count documented as a string) and the
    response that was conforming a moment ago is reported as ST108."""
    case = _one_case(DOCUMENT, "GET", "/api/v1/teams/")
    case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)  # conforming

    broken = copy.deepcopy(DOCUMENT)
    broken["components"]["schemas"]["Team"]["properties"]["service_count"] = {"type": "string"}
    case = _one_case(broken, "GET", "/api/v1/teams/")
    with pytest.raises(FailureGroup) as failure:
        case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)
    assert "Response violates schema" in str(failure.value)
    assert "service_count" in str(failure.value)


def test_contract_check_catches_an_undocumented_response(tokens, db, monkeypatch):
    """A serializer that drops a documented field, and an error code the schema does not
    list, both fail the run."""
    from catalog.api import TeamSerializer

    original = TeamSerializer.to_representation
    monkeypatch.setattr(
        TeamSerializer, "to_representation", lambda self, obj: {**original(self, obj), "service_count": None}
    )
    case = _one_case(DOCUMENT, "GET", "/api/v1/teams/")
    with pytest.raises(FailureGroup, match="Response violates schema"):
        case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)

    broken = copy.deepcopy(DOCUMENT)
    del broken["paths"]["/api/v1/teams/{id}/"]["get"]["responses"]["404"]
    case = _one_case(broken, "GET", "/api/v1/teams/{id}/", path_parameters={"id": 999_999})
    with pytest.raises(FailureGroup, match="Undocumented status code"):
        case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)


def test_contract_check_catches_a_server_error(tokens, db, monkeypatch):
    from catalog.api import TeamViewSet

    def crash(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(TeamViewSet, "list", crash)
    case = _one_case(DOCUMENT, "GET", "/api/v1/teams/")
    with pytest.raises(FailureGroup, match="Server error"):
        case.call_and_validate(headers=_auth(tokens, SUPERUSER), checks=CHECKS)
