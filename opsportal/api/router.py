"""The one /api/v1/ router. Apps register their viewsets in ``<app>/api.py``."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
router.include_format_suffixes = False
