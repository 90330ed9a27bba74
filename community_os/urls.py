from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.urls import rest_urls
from members import team_views
from members import views as member_views

from . import views

urlpatterns = [
    path("", member_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("status/", views.status, name="status"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("c/<slug:slug>/", include("members.urls")),
    path("c/<slug:slug>/engagement/", include("engagement.urls")),
    path("c/<slug:slug>/segments/", include("segments.urls")),
    path("c/<slug:slug>/settings/webhooks/", include("webhooks.urls")),
    # The join page: public under /join/<slug>/, its settings under /c/<slug>/settings/join/.
    path("", include("signup.urls")),
    # An invitation's link (Settings > Team): public, the signed token is the key.
    path("invitations/<str:token>/", team_views.invitation_accept, name="invitation_accept"),
    # Emails: watching segments, preferences, one-click unsubscribe, password reset.
    path("", include("notifications.urls")),
    # The REST API (/api/v1/) and its tokens' settings page (/c/<slug>/settings/api/).
    path("api/v1/", rest_urls()),
    path("", include("api.urls")),
]
