from django.contrib import admin, messages
from django.http import HttpRequest

from .models import MembershipChange, Segment, SegmentMembership, SegmentQuerySet
from .refresh import RefreshError, refresh_segment
from .tasks import refresh_dependents_later


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "community",
        "kind",
        "member_count",
        "pinned",
        "position",
        "refreshed_at",
        "refresh_error",
    ]
    list_filter = ["kind", "pinned", "community"]
    search_fields = ["name", "description", "community__name"]
    list_select_related = ["community"]
    readonly_fields = [
        "rule_version",
        "member_count",
        "refreshed_at",
        "refresh_error",
        "created_by",
        "created_at",
        "updated_at",
    ]
    actions = ["refresh_now"]

    @admin.action(description="Refresh now (smart segments)")
    def refresh_now(self, request: HttpRequest, queryset: SegmentQuerySet) -> None:
        for segment in queryset.smart():
            try:
                result = refresh_segment(segment.pk)
            except RefreshError as error:
                self.message_user(request, f"{segment}: {error}", messages.ERROR)
                continue
            if result.changed:  # as the Celery task does: the segments reading this one follow
                refresh_dependents_later(segment)
            self.message_user(request, f"{segment}: {result.entered} entered, {result.left} left.")
        if skipped := queryset.manual().count():
            self.message_user(
                request,
                f"{skipped} manual segment(s) left alone: they have no rule.",
                messages.WARNING,
            )


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(admin.ModelAdmin):
    list_display = ["member", "segment", "community", "via", "added_at", "added_by"]
    list_filter = ["via", "community"]
    search_fields = ["member__name", "member__email", "segment__name"]
    list_select_related = ["member", "segment", "community", "added_by"]
    raw_id_fields = ["member", "segment", "added_by"]
    show_full_result_count = False


@admin.register(MembershipChange)
class MembershipChangeAdmin(admin.ModelAdmin):
    """The ledger is history: it can be read, never edited."""

    list_display = ["at", "member", "change", "segment", "via", "by", "rule_version"]
    list_filter = ["change", "via", "community"]
    search_fields = ["member__name", "member__email", "segment__name"]
    list_select_related = ["member", "segment", "by"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
