from django.contrib import admin

from .models import Activity, ActivityKind, HealthSnapshot, MemberScore


@admin.register(ActivityKind)
class ActivityKindAdmin(admin.ModelAdmin):
    list_display = ["slug", "label", "community", "weight", "daily_cap", "initiated"]
    list_editable = ["weight", "daily_cap", "initiated"]
    list_filter = ["community", "initiated"]
    search_fields = ["slug", "label", "community__name"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "member", "community", "source", "channel"]
    list_filter = ["community", "kind__slug", "source"]
    search_fields = ["member__name", "member__email", "external_id", "title", "channel"]
    date_hierarchy = "occurred_at"
    list_select_related = ["kind", "member", "community"]
    autocomplete_fields = ["member"]
    raw_id_fields = ["kind"]
    show_full_result_count = False


@admin.register(MemberScore)
class MemberScoreAdmin(admin.ModelAdmin):
    list_display = [
        "member",
        "community",
        "engagement",
        "frequency",
        "recency",
        "impact",
        "active_days_90",
        "last_active_at",
        "as_of",
    ]
    list_filter = ["community"]
    search_fields = ["member__name", "member__email"]
    list_select_related = ["member", "community"]
    readonly_fields = [f.name for f in MemberScore._meta.fields]
    show_full_result_count = False


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(admin.ModelAdmin):
    """Written by scoring; read-only here."""

    list_display = ["week", "community", "members", "super_users", "active", "inactive", "as_of"]
    list_filter = ["community"]
    date_hierarchy = "week"
    list_select_related = ["community"]
    readonly_fields = [f.name for f in HealthSnapshot._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
