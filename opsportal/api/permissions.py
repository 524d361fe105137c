from rest_framework.permissions import BasePermission, DjangoModelPermissions

from accounts.permissions import has_any_role


class HasARole(BasePermission):
    """The API's description (schema, Swagger UI, ReDoc): people who hold a role, not every
    account that can sign in."""

    message = "The API description is for people who hold a role in the portal."

    def has_permission(self, request, view):
        return has_any_role(request.user)


class DjangoModelPermissionsWithView(DjangoModelPermissions):
    """Model permissions for every method, reads included (DRF's default lets any
    authenticated user read): a user needs ``view_<model>`` to list or retrieve."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }
