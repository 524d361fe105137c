from django.urls import path

from escalations import views

app_name = "escalations"
urlpatterns = [
    path("support/", views.home, name="home"),
    path("support/escalate/", views.escalate, name="escalate"),
]
