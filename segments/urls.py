from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("preview/", views.segment_preview, name="preview"),
    path("sidebar/", views.sidebar, name="sidebar"),
    path("<int:pk>/", views.segment_detail, name="detail"),
    path("<int:pk>/edit/", views.segment_edit, name="edit"),
    path("<int:pk>/delete/", views.segment_delete, name="delete"),
    path("<int:pk>/pin/", views.segment_pin, name="pin"),
    path("<int:pk>/move/", views.segment_move, name="move"),
    path("<int:pk>/reviewed/", views.segment_reviewed, name="reviewed"),
    path("<int:pk>/export.csv", views.segment_export, name="export"),
    path("<int:pk>/members/add/", views.segment_add, name="add"),
    path("<int:pk>/members/remove/", views.segment_remove, name="remove"),
    path("member/<int:member_pk>/", views.member_segments, name="member"),
]
