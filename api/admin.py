from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made on the Settings page or by create_api_token (their secret is shown
    only then); here staff see them and may revoke them by setting revoked_at."""

    list_display = [
        "name",
        "community",
        "scope",
        "shown",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope", "community"]
    search_fields = ["name", "community__name"]
    list_select_related = ["community"]
    readonly_fields = ["shown", "created_by", "created_at", "last_used_at", "community"]
    fields = [
        "community",
        "name",
        "scope",
        "shown",
        "expires_at",
        "revoked_at",
        *readonly_fields[1:4],
    ]

    def has_add_permission(self, request) -> bool:
        return False
