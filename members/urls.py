from django.urls import path

from . import import_views, merge_views, team_views, views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("members/<int:pk>/", views.member_detail, name="detail"),
    path("members/duplicates/", merge_views.duplicates_page, name="duplicates"),
    path("members/<str:kept>/merge/<str:other>/", merge_views.member_merge, name="merge"),
    path("imports/", import_views.imports, name="imports"),
    path("imports/<int:pk>/", import_views.import_job, name="import_job"),
    path("imports/<int:pk>/report.csv", import_views.import_job_report, name="import_job_report"),
    path("settings/team/", team_views.team_page, name="team"),
    path("settings/team/<int:pk>/role/", team_views.team_role, name="team_role"),
    path("settings/team/<int:pk>/remove/", team_views.team_remove, name="team_remove"),
    path("settings/team/invitations/<int:pk>/revoke/", team_views.team_revoke, name="team_revoke"),
]
