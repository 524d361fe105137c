from django.urls import path, register_converter

from status import views


class PublicIdConverter:
    regex = r"[A-Za-z0-9_-]{8,32}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class TokenConverter:
    regex = r"[A-Za-z0-9_:.\-]{10,400}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(PublicIdConverter, "publicid")
register_converter(TokenConverter, "stoken")

app_name = "status"

urlpatterns = [
    path("status/", views.index, name="index"),
    path("status/incidents/<publicid:public_id>/", views.incident, name="incident"),
    path("status/history/", views.history, name="history"),
    path("status/history/<int:year>/<int:month>/", views.history, name="history_month"),
    path("status/feed.atom", views.atom_feed, name="feed_atom"),
    path("status/feed.rss", views.rss_feed, name="feed_rss"),
    path("status/api/summary.json", views.summary_json, name="summary"),
    path("status/subscribe/", views.subscribe, name="subscribe"),
    path("status/subscribe/confirm/<stoken:token>/", views.confirm, name="confirm"),
    path("status/unsubscribe/<stoken:token>/", views.unsubscribe, name="unsubscribe"),
]
