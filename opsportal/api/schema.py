"""The OpenAPI schema class of every /api/v1/ view (``DEFAULT_SCHEMA_CLASS``).

drf-spectacular documents what a view returns when it succeeds. This class adds, in one
place, what every operation answers when it does not - the error bodies of
``opsportal.api.exceptions`` - and describes honestly the few values whose JSON Schema
``format`` would be wrong:

- **Errors** (``application/json``), on the operations where they can occur:
  400 ``ValidationError`` (field errors, or ``detail``) on writes and on reads that take
  query parameters; 401 and 403 ``Error`` everywhere (token or session required, model
  permissions on every method); 404 ``Error`` on detail routes and paginated lists (an
  unknown page); 409 ``Conflict`` on writes (a transition not allowed from the current state,
  a lost race, a delete of something still referenced); 415 ``Error`` where a body is
  read. A description given with ``@extend_schema(responses=...)`` is kept; the body is
  always the shared one (429 only where an operation declares it).
- **Wall-clock times** (``TimeField``): ``HH:MM[:SS[.ffffff]]`` without offset, as DRF reads
  and writes them; JSON Schema's ``format: time`` demands an offset, so a pattern instead.
- **Optional URLs and e-mail addresses** (blank allowed by the serializer or the model):
  ``oneOf`` the formatted string or ``""``, which is what the API sends when none is set.
"""

from __future__ import annotations

import copy

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, get_view_model
from rest_framework import serializers
from rest_framework.schemas.utils import get_pk_description

from opsportal.api.router import DIGITS

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"

ERROR_COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "An error that concerns the whole request.",
        "properties": {"detail": {"type": "string", "description": "What went wrong, for people."}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": (
            'Invalid input: `{"<field>": ["message", ...]}` per field (nested objects and lists '
            'for nested fields, `non_field_errors` for the body as a whole), or `{"detail": "message"}`.'
        ),
        "properties": {
            "detail": {"type": "string"},
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": {"oneOf": [{"type": "array", "items": {}}, {"type": "object"}]},
    },
    "ReferencingObject": {
        "type": "object",
        "properties": {
            "model": {"type": "string", "description": "Model name, e.g. service."},
            "id": {"type": "integer"},
            "name": {"type": "string"},
        },
        "required": ["model", "id", "name"],
    },
    "Conflict": {
        "type": "object",
        "description": (
            "Not allowed from the current state, or lost a race: `detail` (or the field concerned). "
            "A delete refused because other objects still reference this one lists them in "
            "`referenced_by` (the first 20) and counts them in `referenced_by_count`."
        ),
        "properties": {
            "detail": {"type": "string"},
            "referenced_by": {"type": "array", "items": {"$ref": "#/components/schemas/ReferencingObject"}},
            "referenced_by_count": {"type": "integer"},
            "status": {
                "type": "string",
                "nullable": True,
                "description": "The object's current state, where the refusal is about it (null: no such object).",
            },
        },
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
}
ERROR_DESCRIPTIONS = {
    "400": ("ValidationError", "Invalid input."),
    "401": ("Error", "No valid credentials: send `Authorization: Token <key>` or a session cookie."),
    "403": ("Error", "Signed in, but not allowed to do this."),
    "404": ("Error", "Not found, or not visible to you."),
    "409": ("Conflict", "Not allowed from the current state, lost a race, or still referenced."),
    "415": ("Error", "The body's Content-Type is not one of those documented for this operation."),
    "429": ("Error", "Too many requests: slow down and retry later."),
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in sorted(self._error_codes(operation) | {c for c in responses if c in ERROR_DESCRIPTIONS}):
            component, default_description = ERROR_DESCRIPTIONS[code]
            declared = responses.get(code, {})
            responses[code] = {
                "description": declared.get("description") or default_description,
                "content": {"application/json": {"schema": self._error_component(component)}},
            }
        return operation

    def _error_codes(self, operation) -> set[str]:
        parameters = operation.get("parameters", [])
        codes = {"401", "403"}
        if self.method in WRITE_METHODS:
            codes |= {"400", "409"}
        if "requestBody" in operation:
            codes.add("415")
        elif any(p["in"] == "query" for p in parameters):
            codes.add("400")
        if any(p["in"] == "path" for p in parameters) or any(p["name"] == "page" for p in parameters):
            codes.add("404")
        return codes

    def _error_component(self, name: str) -> dict:
        for dependency in ("ReferencingObject",) if name == "Conflict" else ():
            self._register(dependency)
        return self._register(name).ref

    def _register(self, name: str) -> ResolvedComponent:
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            schema=copy.deepcopy(ERROR_COMPONENTS[name]),
            object=name,
        )
        self.registry.register_on_missing(component)
        return component

    def _resolve_path_parameters(self, variables):
        """Integer ids: the router matches them as digits only (``opsportal.api.router``);
        drf-spectacular would read that regex as a string with a pattern."""
        parameters = super()._resolve_path_parameters(variables)
        model = get_view_model(self.view, emit_warnings=False)
        for parameter in parameters:
            if parameter["schema"] == {"type": "string", "pattern": f"^{DIGITS}$"}:
                parameter["schema"] = {"type": "integer"}
                if model is not None:
                    parameter["description"] = get_pk_description(model, model._meta.pk)
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not schema or "$ref" in schema:
            return schema
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            schema.pop("format")
            schema["pattern"] = TIME_PATTERN
            schema.setdefault("example", "09:30:00")
        elif schema.get("format") in ("uri", "email") and _blank_allowed(field):
            text = {"type": "string", "format": schema.pop("format")}
            schema.pop("type", None)
            schema["oneOf"] = [text, {"type": "string", "enum": [""]}]
        return schema


def _blank_allowed(field) -> bool:
    """The serializer allows "" - or, for a read-only field of a ModelSerializer (where DRF
    drops ``allow_blank``), the model field does."""
    if getattr(field, "allow_blank", False):
        return True
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        return bool(model._meta.get_field(field.source).blank)
    except FieldDoesNotExist:
        return False
