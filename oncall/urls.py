from django.urls import path

from oncall import views

app_name = "oncall"
urlpatterns = [
    path("oncall/ical/<str:token>.ics", views.feed, name="ical"),
    path("oncall/ack/<str:token>/", views.acknowledge, name="acknowledge"),
]
