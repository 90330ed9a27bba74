from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

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
    # The join page: public under /join/<slug>/, its settings under /c/<slug>/settings/join/.
    path("", include("signup.urls")),
]
