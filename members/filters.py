"""The community table's filters."""

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from .models import Member


class DateInput(forms.DateInput):
    input_type = "date"


class MemberFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    company = django_filters.CharFilter(
        field_name="company_name", lookup_expr="iexact", label="Company"
    )
    title = django_filters.CharFilter(
        field_name="job_title", lookup_expr="icontains", label="Job title contains"
    )
    city = django_filters.CharFilter(field_name="city", lookup_expr="iexact", label="City")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact", label="Country")
    joined = django_filters.DateFromToRangeFilter(
        field_name="joined_at",
        label="Joined",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    last_seen = django_filters.DateFromToRangeFilter(
        field_name="last_seen_at",
        label="Last seen",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )

    class Meta:
        model = Member
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every word must appear in the name, email, company or job title."""
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(email__icontains=word)
                | Q(company_name__icontains=word)
                | Q(job_title__icontains=word)
            )
        return queryset
