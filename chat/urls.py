from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("chat/slack/commands/", views.slack_commands, name="slack-commands"),
    path("chat/slack/interactivity/", views.slack_interactivity, name="slack-interactivity"),
    path("chat/slack/events/", views.slack_events, name="slack-events"),
    path("chat/mattermost/command/", views.mattermost_command, name="mattermost-command"),
    path("chat/mattermost/action/", views.mattermost_action, name="mattermost-action"),
]
