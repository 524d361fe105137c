from django.urls import path

from identity import oidc

app_name = "identity"
urlpatterns = [
    path("sso/start/", oidc.StartView.as_view(), name="oidc-start"),
    path("sso/callback/", oidc.CallbackView.as_view(), name="oidc-callback"),
]
