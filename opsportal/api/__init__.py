"""Shared API plumbing: the /api/v1/ router (router.py), permissions, pagination, errors."""
