from django.urls import path

from . import import_views, merge_views, views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("members/<int:pk>/", views.member_detail, name="detail"),
    path("members/duplicates/", merge_views.duplicates_page, name="duplicates"),
    path("members/<str:kept>/merge/<str:other>/", merge_views.member_merge, name="merge"),
    path("imports/", import_views.imports, name="imports"),
    path("imports/<int:pk>/", import_views.import_job, name="import_job"),
    path("imports/<int:pk>/report.csv", import_views.import_job_report, name="import_job_report"),
]
