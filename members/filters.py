"""The community table's filters."""

from datetime import UTC, datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import DateRangeField

from .models import Member

# A search filters by each distinct word (four LIKE conditions a word): 1,300 repeated words
# once took 6 s. Beyond 8 words, or 100 characters a word, a search narrows nothing a person
# would notice; the rest is ignored (a longer word matches as its first 100 characters).
MAX_SEARCH_WORDS = 8
MAX_SEARCH_WORD_LENGTH = 100
# The longest value a text filter takes: the longest column they compare (company, job
# title) holds 200 characters, so a longer value could match nothing.
MAX_FILTER_LENGTH = 200


def search_words(text: str) -> list[str]:
    """The words a search looks for: split on whitespace, repeats dropped whatever their case
    (the first spelling kept), each cut to MAX_SEARCH_WORD_LENGTH, at most MAX_SEARCH_WORDS."""
    words: dict[str, str] = {}
    for word in text.split():
        word = word[:MAX_SEARCH_WORD_LENGTH]
        words.setdefault(word.casefold(), word)
        if len(words) == MAX_SEARCH_WORDS:
            break
    return list(words.values())


def _within_calendar(moment: datetime | None) -> datetime | None:
    """The bound, or None when it lies beyond the datetimes Python holds in UTC (the first day
    of year 1 east of UTC, the last of 9999 west of it): every stored datetime is within it."""
    if moment is None:
        return None
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment


class CalendarDateRangeField(DateRangeField):
    """A date range, in the current time zone, whose ends the database can always compare."""

    def compress(self, data_list: list) -> slice | None:
        bounds = super().compress(data_list)
        if bounds is None:
            return None
        start, stop = _within_calendar(bounds.start), _within_calendar(bounds.stop)
        return None if start is None and stop is None else slice(start, stop)


class DateFromToRangeFilter(django_filters.DateFromToRangeFilter):
    field_class = CalendarDateRangeField


def _text(**kwargs) -> django_filters.CharFilter:
    # The form field is a CharField: a NUL is a form error ("Null characters are not allowed.").
    return django_filters.CharFilter(max_length=MAX_FILTER_LENGTH, **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"


class MemberFilter(django_filters.FilterSet):
    # No max_length: search_words reads at most 8 words of 100 characters, however long.
    q = django_filters.CharFilter(method="search", label="Search")
    company = _text(field_name="company_name", lookup_expr="iexact", label="Company")
    title = _text(field_name="job_title", lookup_expr="icontains", label="Job title contains")
    city = _text(field_name="city", lookup_expr="iexact", label="City")
    country = _text(field_name="country", lookup_expr="iexact", label="Country")
    joined = DateFromToRangeFilter(
        field_name="joined_at",
        label="Joined",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    last_seen = DateFromToRangeFilter(
        field_name="last_seen_at",
        label="Last seen",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )

    class Meta:
        model = Member
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every word must appear in the name, email, company or job title."""
        for word in search_words(value):
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(email__icontains=word)
                | Q(company_name__icontains=word)
                | Q(job_title__icontains=word)
            )
        return queryset
