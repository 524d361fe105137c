"""DRF exception handler that also speaks our service errors and Django's ValidationError.

Every error body is a JSON object in DRF's shape: ``{"detail": "..."}`` or field errors
``{"<field>": ["..."]}`` (never a bare list). A delete that other rows still reference (Django's ProtectedError or
RestrictedError, from any DELETE) is a 409 naming them, never a 500:
``{"detail": "...", "referenced_by": [{"model": "service", "id": 3, "name": "checkout"}],
"referenced_by_count": 1}``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from opsportal.db import REFERENCED_BY_LIMIT, in_use
from opsportal.errors import InUse, ServiceError

__all__ = ["REFERENCED_BY_LIMIT", "exception_handler"]


def exception_handler(exc, context):
    if isinstance(exc, (ProtectedError, RestrictedError)):
        exc = in_use(_target_label(context.get("view")), exc)
    if isinstance(exc, InUse):
        body = {
            "detail": exc.message,
            "referenced_by": exc.referenced_by,
            "referenced_by_count": exc.referenced_by_count,
        }
        return Response(body, status=exc.status_code)
    if isinstance(exc, ServiceError):
        if exc.field:
            return Response({exc.field: [exc.message]}, status=exc.status_code)
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # ValidationError("...") raised outside a serializer (DRF's search and ordering filters
        # refuse NUL characters that way) renders as a bare list: give it the detail shape.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    return response


def _target_label(view) -> str:
    """ "Escalation policy Storefront" for the object a detail view was deleting."""
    try:
        queryset = view.get_queryset()
        lookup = view.lookup_url_kwarg or view.lookup_field
        target = queryset.filter(**{view.lookup_field: view.kwargs[lookup]}).first()
    except Exception:  # a label must never turn the 409 into a 500
        target = None
        queryset = None
    if target is not None:
        return f"{target._meta.verbose_name.capitalize()} {target}"
    if queryset is not None:
        return f"This {queryset.model._meta.verbose_name}"
    return "This object"
