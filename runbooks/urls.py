from django.urls import path

from runbooks import views

app_name = "runbooks"
urlpatterns = [
    path("runbooks/", views.index, name="index"),
    path("runbooks/<slug:slug>/", views.detail, name="detail"),
    path("runbooks/<slug:slug>/review/", views.review, name="review"),
    path("runbooks/<slug:slug>/test/", views.record_test, name="record-test"),
]
