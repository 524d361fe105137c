"""The one /api/v1/ router. Apps register their viewsets in ``<app>/api.py``."""

from rest_framework.routers import DefaultRouter

DIGITS = "[0-9]+"


class Router(DefaultRouter):
    """Detail routes of integer primary keys match digits only: ``/api/v1/teams/0.5/`` or
    ``/api/v1/teams/abc/`` is then no route at all, answered by the JSON 404 at the end of
    ``opsportal.urls`` instead of reaching a lookup. A viewset that sets
    ``lookup_value_regex`` (or looks up by another field, e.g. a slug) keeps DRF's default."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        if getattr(viewset, "lookup_value_regex", None) is None and getattr(
            viewset, "lookup_field", "pk"
        ) in ("pk", "id"):
            lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or getattr(
                viewset, "lookup_field", "pk"
            )
            return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{DIGITS})"
        return super().get_lookup_regex(viewset, lookup_prefix)


router = Router()
router.include_format_suffixes = False
