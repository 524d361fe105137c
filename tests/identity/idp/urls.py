from django.contrib.auth import views as auth_views
from django.urls import include, path

from tests.identity.idp import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("control/user", views.user),
    path("control/app", views.app),
    path("control/rotate", views.rotate),
]
