from django.urls import path, re_path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("integrations/<str:key>/", views.ingest, name="ingest"),
    re_path(
        r"^integrations/(?P<key>[^/]+)/(?P<suffix>alertmanager|grafana|generic|v2/enqueue)/?$",
        views.ingest,
        name="ingest-kind",
    ),
]
