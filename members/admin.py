from django.contrib import admin

from .models import Community, CommunityRole, Identity, Member, MemberMerge


class CommunityRoleInline(admin.TabularInline):
    model = CommunityRole
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "segment_refresh_interval", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CommunityRoleInline]


@admin.register(CommunityRole)
class CommunityRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "community", "role", "created_at"]
    list_filter = ["role", "community"]
    search_fields = ["user__username", "user__email", "community__name", "community__slug"]
    autocomplete_fields = ["user", "community"]


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["source", "external_id", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "email",
        "company_name",
        "job_title",
        "city",
        "country",
        "community",
        "joined_at",
        "last_seen_at",
    ]
    list_filter = ["community", "country", ("last_seen_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "email", "company_name", "job_title", "city"]
    date_hierarchy = "joined_at"
    list_select_related = ["community"]
    readonly_fields = ["created_at", "updated_at"]
    autocomplete_fields = ["community"]
    inlines = [IdentityInline]
    # Show "1,000+" rather than an exact count over a very large table.
    show_full_result_count = False

    def save_formset(self, request, form, formset, change):
        # New identities belong to the member's community.
        for identity in formset.save(commit=False):
            identity.community = form.instance.community
            identity.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["source", "external_id", "member", "community", "created_at"]
    list_filter = ["source", "community"]
    search_fields = ["external_id", "member__name", "member__email"]
    list_select_related = ["member", "community"]
    autocomplete_fields = ["member", "community"]


@admin.register(MemberMerge)
class MemberMergeAdmin(admin.ModelAdmin):
    """The record of each merge, read-only: a merge is done on the merge screen and cannot be
    undone, so there is nothing to add or change here. (Deleting stays allowed: a record goes
    with its kept member or community, which the admin would otherwise refuse to delete.)"""

    list_display = ["merged_display_name", "merged_member_id", "kept", "community", "by", "at"]
    list_filter = ["community"]
    search_fields = ["merged_name", "merged_email", "kept__name", "kept__email"]
    list_select_related = ["kept", "community", "by"]
    date_hierarchy = "at"
    fields = [
        "community",
        "kept",
        "merged_member_id",
        "merged_name",
        "merged_email",
        "by",
        "at",
        "fields",
        "counts",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
