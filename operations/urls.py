from django.urls import path

from operations import views

app_name = "operations"
urlpatterns = [
    path("operating-model/", views.operating_model, name="operating-model"),
    path("operating-model.md", views.operating_model_markdown, name="operating-model-markdown"),
    path("operating-model/check-in/<str:token>/", views.check_in_link, name="check-in"),
]
