"""SCIM 2.0 (RFC 7643/7644) for the company directory, on django-scim2: its views, routing,
filter parser and error shape; our adapters translate SCIM documents to calls of
``identity.services`` (which validate, write and audit) - never a model save of their own.

- Users: create, read, list/filter, replace (PUT), PATCH, DELETE. ``active: false`` (or
  DELETE) deactivates the person through the departure workflow; the account is kept.
- Groups: directory groups whose members get the portal roles/teams ``SSO_ROLE_MAP`` /
  ``SSO_TEAM_MAP`` map the group to.
- Authentication: ``Authorization: Bearer <SCIM token>`` (``identity.ScimToken``).
- A document that does not fit the schema gets SCIM's error shape: 400 with ``scimType``
  (RFC 7644 section 3.12).
"""

from __future__ import annotations

import json
import re

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django_scim import constants, exceptions
from django_scim.adapters import SCIMGroup, SCIMUser

from identity import services
from identity.models import AuditEvent
from opsportal.errors import Conflict, ServiceError

USER_SCHEMA = constants.SchemaURI.USER
GROUP_SCHEMA = constants.SchemaURI.GROUP
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = constants.SchemaURI.PATCH_OP


def bad(detail: str, scim_type: str = "invalidValue") -> exceptions.BadRequestError:
    return exceptions.BadRequestError(detail, scim_type=scim_type)


def _service(call, **kwargs):
    """Run a service; its refusals become SCIM errors."""
    try:
        return call(**kwargs)
    except Conflict as exc:
        raise exceptions.IntegrityError(exc.message, scim_type="uniqueness") from None
    except ServiceError as exc:
        raise bad(exc.message) from None


def base_location(request=None, *args, **kwargs) -> str:
    """Absolute URLs in SCIM answers use the host the directory called."""
    from django.conf import settings

    return request.build_absolute_uri("/") if request is not None else settings.SITE_URL + "/"


def _string(value, name: str, *, required: bool = False, max_length: int = 255) -> str | None:
    if value is None:
        if required:
            raise bad(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise bad(f"{name} must be a string.", "invalidSyntax")
    if required and not value.strip():
        raise bad(f"{name} must not be empty.")
    if len(value) > max_length:
        raise bad(f"{name} is longer than {max_length} characters.")
    return value


def _boolean(value, name: str) -> bool:
    # Entra ID sends "True"/"False" strings in PATCH operations.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad(f"{name} must be a boolean.", "invalidSyntax")


def _schemas(doc: dict, required: str) -> None:
    if not isinstance(doc, dict):
        raise bad("The body must be a JSON object.", "invalidSyntax")
    schemas = doc.get("schemas")
    if not isinstance(schemas, list) or required not in schemas:
        raise bad(f"schemas must list {required}.", "invalidSyntax")


def _primary_email(value) -> str:
    if isinstance(value, dict):  # OneLogin sends one object
        value = [value]
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise bad("emails must be a list of objects.", "invalidSyntax")
    ordered = sorted(value, key=lambda e: not e.get("primary"))
    email = ordered[0].get("value") if ordered else ""
    if not isinstance(email, str):
        raise bad("emails[].value must be a string.", "invalidSyntax")
    try:
        SCIMUser.validate_email(email.strip())
    except exceptions.BadRequestError:
        raise bad(f"{email!r} is not an e-mail address.") from None
    return email.strip()


class User(SCIMUser):
    """A portal account as a SCIM User."""

    id_field = "pk"

    def __init__(self, obj, request=None):
        super().__init__(obj, request)
        self.fields: dict = {}
        self.active: bool | None = None
        self.external_id: str | None = None

    @property
    def managed(self):
        return getattr(self.obj, "managed", None) if self.obj.pk else None

    @property
    def groups(self):
        return [
            {"value": str(g.pk), "display": g.display_name, "$ref": Group(g, self.request).location}
            for g in self.obj.directory_groups.all()
        ]

    @property
    def meta(self):
        return {
            "resourceType": "User",
            "created": self.obj.date_joined.isoformat(),
            "lastModified": (self.managed.updated_at if self.managed else self.obj.date_joined).isoformat(),
            "location": self.location,
        }

    def to_dict(self):
        d = {
            "schemas": [USER_SCHEMA],
            "id": self.id,
            "userName": self.obj.username,
            "name": {
                "givenName": self.obj.first_name,
                "familyName": self.obj.last_name,
                "formatted": self.name_formatted,
            },
            "displayName": self.display_name,
            "emails": [{"value": self.obj.email, "primary": True, "type": "work"}] if self.obj.email else [],
            "active": self.obj.is_active,
            "groups": self.groups,
            "meta": self.meta,
        }
        if self.managed and self.managed.external_id:
            d["externalId"] = self.managed.external_id
        return d

    def from_dict(self, d):
        """A full User document (POST, PUT): check it against the schema, keep what to write."""
        _schemas(d, USER_SCHEMA)
        self.fields = {"username": _string(d.get("userName"), "userName", required=True, max_length=150)}
        name = d.get("name")
        if name is not None:
            if not isinstance(name, dict):
                raise bad("name must be an object.", "invalidSyntax")
            self.fields["first_name"] = _string(name.get("givenName"), "name.givenName", max_length=150) or ""
            self.fields["last_name"] = (
                _string(name.get("familyName"), "name.familyName", max_length=150) or ""
            )
        if d.get("emails") is not None:
            self.fields["email"] = _primary_email(d["emails"])
        if d.get("active") is not None:
            self.active = _boolean(d["active"], "active")
        if "externalId" in d:
            self.external_id = _string(d.get("externalId"), "externalId") or ""

    def validate_dict(self, d):
        pass  # from_dict validates

    def save(self):
        self.obj = _service(
            services.scim_save_user,
            user=self.obj,
            fields=self.fields,
            active=self.active,
            external_id=self.external_id,
            request=self.request,
        )

    def delete(self):
        _service(services.scim_delete_user, user=self.obj, request=self.request)

    _PATHS = {
        "username": "username",
        "name.givenname": "first_name",
        "name.familyname": "last_name",
    }
    # RFC 7643 User attributes the portal does not keep: accepted and ignored (an IdP sends
    # them all the time), so only a misspelt or unknown attribute is an error.
    _IGNORED = frozenset(
        {
            "displayname", "nickname", "profileurl", "title", "usertype", "preferredlanguage", "locale",
            "timezone", "password", "phonenumbers", "ims", "photos", "addresses", "entitlements", "roles",
            "x509certificates", "groups", "name.formatted", "name.middlename", "name.honorificprefix",
            "name.honorificsuffix", "id", "meta", "schemas",
        }
    )  # fmt: skip

    def _apply(self, path: str, value) -> None:
        key = path.strip().lower()
        if key.startswith(USER_SCHEMA.lower() + ":"):
            key = key[len(USER_SCHEMA) + 1 :]
        if key in self._IGNORED or re.fullmatch(r"(phonenumbers|addresses|emails)\[.*\]\.(?!value).*", key):
            return
        if key.startswith(ENTERPRISE_SCHEMA.lower()):
            return  # enterprise extension (manager, department): not kept
        if key == "active":
            self.active = _boolean(value, "active")
        elif key == "externalid":
            self.external_id = _string(value, "externalId") or ""
        elif key == "name":
            if not isinstance(value, dict):
                raise bad("name must be an object.", "invalidSyntax")
            for sub, target in (("givenName", "first_name"), ("familyName", "last_name")):
                if sub in value:
                    self.fields[target] = _string(value[sub], f"name.{sub}", max_length=150) or ""
        elif key == "emails" or re.fullmatch(r'emails\[type eq "?\w+"?\]\.value', key):
            self.fields["email"] = _primary_email(
                value if key == "emails" else [{"value": value, "primary": True}]
            )
        elif key in self._PATHS:
            if self._PATHS[key]:
                self.fields[self._PATHS[key]] = _string(
                    value, path, required=key == "username", max_length=150
                )
        else:
            raise bad(f"Unknown or read-only attribute path {path!r}.", "invalidPath")

    def handle_operations(self, operations):
        if not isinstance(operations, list):
            raise bad("Operations must be a list.", "invalidSyntax")
        for op in operations:
            if not isinstance(op, dict):
                raise bad("Each operation must be an object.", "invalidSyntax")
            code = str(op.get("op", "")).lower()
            path, value = op.get("path"), op.get("value")
            if code not in ("add", "replace", "remove"):
                raise bad(f"Unknown PATCH op {op.get('op')!r}.", "invalidSyntax")
            if code == "remove":
                if not path:
                    raise bad("remove needs a path.", "noTarget")
                if str(path).lower() in ("active", "username"):
                    raise bad(f"{path} cannot be removed.", "mutability")
                self._apply(str(path), "")
                continue
            if path:
                if not isinstance(path, str):
                    raise bad("path must be a string.", "invalidSyntax")
                self._apply(path, value)
            else:
                if not isinstance(value, dict):
                    raise bad("An operation without a path needs an object value.", "invalidSyntax")
                for name, item in value.items():
                    self._apply(name, item)
        self.save()


class Group(SCIMGroup):
    """A directory group as a SCIM Group."""

    id_field = "pk"

    def __init__(self, obj, request=None):
        super().__init__(obj, request)
        self.display = None
        self.external_id = None
        self.member_set = None
        self.add, self.remove = set(), set()

    @property
    def members(self):
        return [
            {"value": str(u.pk), "display": str(u), "$ref": User(u, self.request).location}
            for u in self.obj.members.all()
        ]

    def to_dict(self):
        d = {
            "schemas": [GROUP_SCHEMA],
            "id": self.id,
            "displayName": self.obj.display_name,
            "members": self.members,
            "meta": {"resourceType": "Group", "location": self.location},
        }
        if self.obj.external_id:
            d["externalId"] = self.obj.external_id
        return d

    @staticmethod
    def _users(value) -> set:
        if value is None:
            return set()
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
            raise bad("members must be a list of objects with a value.", "invalidSyntax")
        ids = [str(m.get("value", "")) for m in value]
        if not all(i.isdigit() for i in ids):
            raise bad("members[].value must be the id of a User.", "invalidValue")
        users = get_user_model().objects.in_bulk([int(i) for i in ids])
        if len(users) != len(set(ids)):
            raise bad("members names a User that does not exist.", "invalidValue")
        return set(users.values())

    def from_dict(self, d):
        _schemas(d, GROUP_SCHEMA)
        self.display = _string(d.get("displayName"), "displayName", required=True)
        if "externalId" in d:
            self.external_id = _string(d.get("externalId"), "externalId") or ""
        self.member_set = self._users(d.get("members") or [])

    def validate_dict(self, d):
        pass

    def save(self):
        self.obj = _service(
            services.scim_save_group,
            group=self.obj,
            display_name=self.display,
            external_id=self.external_id,
            members=self.member_set,
            add=self.add,
            remove=self.remove,
            request=self.request,
        )

    def delete(self):
        _service(services.scim_delete_group, group=self.obj, request=self.request)

    def handle_operations(self, operations):
        if not isinstance(operations, list):
            raise bad("Operations must be a list.", "invalidSyntax")
        for op in operations:
            if not isinstance(op, dict):
                raise bad("Each operation must be an object.", "invalidSyntax")
            code = str(op.get("op", "")).lower()
            path, value = op.get("path"), op.get("value")
            if code not in ("add", "replace", "remove"):
                raise bad(f"Unknown PATCH op {op.get('op')!r}.", "invalidSyntax")
            if path is not None and not isinstance(path, str):
                raise bad("path must be a string.", "invalidSyntax")
            lowered = (path or "").lower()
            member = re.fullmatch(r'members\[value eq "([^"]*)"\]', path or "", flags=re.IGNORECASE)
            if not path and code in ("add", "replace"):
                if not isinstance(value, dict):
                    raise bad("An operation without a path needs an object value.", "invalidSyntax")
                if "displayName" in value:
                    self.display = _string(value["displayName"], "displayName", required=True)
                if "externalId" in value:
                    self.external_id = _string(value["externalId"], "externalId") or ""
                if "members" in value:
                    users = self._users(value["members"])
                    if code == "replace":
                        self.member_set = users
                    else:
                        self.add |= users
            elif lowered == "displayname" and code != "remove":
                self.display = _string(value, "displayName", required=True)
            elif lowered == "externalid":
                self.external_id = "" if code == "remove" else (_string(value, "externalId") or "")
            elif lowered == "members":
                users = self._users(value)
                if code == "add":
                    self.add |= users
                elif code == "replace":
                    self.member_set = users
                else:
                    if value is None:
                        self.member_set = set()
                    else:
                        self.remove |= users
            elif member and code == "remove":
                self.remove |= self._users([{"value": member.group(1)}])
            else:
                raise bad(f"Unsupported {code} of {path!r}.", "invalidPath")
        self.save()


# --- authentication --------------------------------------------------------------------------------


def _scim_error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [constants.SchemaURI.ERROR], "detail": detail, "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    return HttpResponse(json.dumps(body), status=status, content_type=constants.SCIM_CONTENT_TYPE)


class BearerTokenCheck:
    """django-scim2's AUTH_CHECK_MIDDLEWARE (wraps every SCIM view): a SCIM token or 401."""

    def __init__(self, get_response=None):
        self.get_response = get_response

    def __call__(self, request, *args, **kwargs):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        token = services.authenticate_scim_token(key=key.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            services.record(
                kind=AuditEvent.Kind.SCIM_REFUSED,
                source=AuditEvent.Source.SCIM,
                request=request,
                summary=f"SCIM {request.method} {request.path[:200]} refused: no valid bearer token",
            )
            response = _scim_error(401, "A valid SCIM bearer token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        request.scim_token = token
        return self.get_response(request, *args, **kwargs)
