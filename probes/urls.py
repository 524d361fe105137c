from django.urls import path

from probes import views

app_name = "probes"
urlpatterns = [
    path("ping/<str:ping_uuid>", views.ping_success, name="ping"),
    path("ping/<str:ping_uuid>/start", views.ping_start, name="ping-start"),
    path("ping/<str:ping_uuid>/fail", views.ping_fail, name="ping-fail"),
    path("ping/<str:ping_uuid>/<int:exit_status>", views.ping_exit_status, name="ping-exit-status"),
]
