from django.contrib import admin

from .models import JoinPage, PendingSignup


@admin.register(JoinPage)
class JoinPageAdmin(admin.ModelAdmin):
    list_display = ["community", "enabled", "updated_at", "updated_by"]
    list_filter = ["enabled"]
    search_fields = ["community__name", "community__slug"]
    readonly_fields = ["updated_at", "updated_by"]


@admin.register(PendingSignup)
class PendingSignupAdmin(admin.ModelAdmin):
    """Read-only: the rows are the signups' own (their answers until confirmed)."""

    list_display = ["email", "community", "created_at", "expires_at", "confirmed_at"]
    list_filter = ["community"]
    search_fields = ["email"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
