"""The SCIM endpoints (/scim/v2/...): django-scim2's views with our id check and error shape
for unparsable bodies. Namespaced "scim", as django-scim2's adapters expect."""

from django.urls import re_path
from django_scim import exceptions
from django_scim import views as scim_views

from identity.models import DirectoryGroup
from identity.scim import bad

# --- views: django-scim2's, with numeric ids checked --------------------------------------------------


class _ById:
    def get_object(self):
        uuid = self.kwargs.get(self.lookup_url_kwarg) or ""
        if not uuid.isdigit() or len(uuid) > 18:
            raise exceptions.NotFoundError(uuid)
        return super().get_object()

    def load_body(self, body):
        try:
            return super().load_body(body)
        except exceptions.BadRequestError as exc:
            raise bad(exc.detail, "invalidSyntax") from None


class UsersView(_ById, scim_views.UsersView):
    pass


class GroupsView(_ById, scim_views.GroupsView):
    model_cls_getter = staticmethod(lambda: DirectoryGroup)


class UserSearchView(scim_views.UserSearchView):
    pass


class GroupSearchView(scim_views.GroupSearchView):
    pass


app_name = "scim"
urlpatterns = [
    re_path(r"^$", scim_views.SCIMView.as_view(implemented=False), name="root"),
    re_path(r"^Users/\.search$", UserSearchView.as_view(), name="users-search"),
    re_path(r"^Users(?:/(?P<uuid>[^/]+))?$", UsersView.as_view(), name="users"),
    re_path(r"^Groups/\.search$", GroupSearchView.as_view(), name="groups-search"),
    re_path(r"^Groups(?:/(?P<uuid>[^/]+))?$", GroupsView.as_view(), name="groups"),
    re_path(
        r"^ServiceProviderConfig$",
        scim_views.ServiceProviderConfigView.as_view(),
        name="service-provider-config",
    ),
    re_path(
        r"^ResourceTypes(?:/(?P<uuid>[^/]+))?$", scim_views.ResourceTypesView.as_view(), name="resource-types"
    ),
    re_path(r"^Schemas(?:/(?P<uuid>[^/]+))?$", scim_views.SchemasView.as_view(), name="schemas"),
    re_path(
        r"^(?:\.search|Me|Bulk)$", scim_views.SCIMView.as_view(implemented=False), name="not-implemented"
    ),
]
