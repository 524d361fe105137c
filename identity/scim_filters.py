"""SCIM filter queries (``filter=userName eq "bjensen"``) mapped to our columns. Its own
module: django-scim2 imports it while loading its adapters."""

from django_scim.filters import GroupFilterQuery, UserFilterQuery


class UserFilter(UserFilterQuery):
    attr_map = {
        ("userName", None, None): "username",
        ("name", "familyName", None): "last_name",
        ("familyName", None, None): "last_name",
        ("name", "givenName", None): "first_name",
        ("givenName", None, None): "first_name",
        ("active", None, None): "is_active",
        ("emails", "value", None): "email",
        ("emails", None, None): "email",
    }


class GroupFilter(GroupFilterQuery):
    attr_map = {("displayName", None, None): "display_name"}
