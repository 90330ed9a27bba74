from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("members/<int:pk>/", views.member_detail, name="detail"),
    path("imports/", views.imports, name="imports"),
]
