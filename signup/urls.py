"""The join page's URLs: the public page under /join/<slug>/ (no login) and its settings under
the community's /c/<slug>/settings/ (community_view). Included at the root by
community_os/urls.py, since they live under two prefixes."""

from django.urls import path

from . import views

app_name = "signup"

urlpatterns = [
    path("join/<slug:slug>/", views.join, name="join"),
    path("join/<slug:slug>/sent/", views.sent, name="sent"),
    path("join/<slug:slug>/confirm/<str:token>/", views.confirm, name="confirm"),
    path("c/<slug:slug>/settings/join/", views.join_settings, name="settings"),
]
