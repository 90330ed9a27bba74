"""The community table's cells, written as HTML in Python.

A page of the table is 50 rows of a dozen cells. Rendered through template tags (an
`{% if %}` chain per cell, with a filter or two), the cells cost most of the page's time;
written here with `format_html`, which escapes every value, they cost a tenth of it. Each
kind of column (`Column.kind`) has one function below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.dates import MONTHS_3
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from .templatetags.members_extras import ago

NEVER = mark_safe('<span class="muted">Never</span>')
NO_SCORE = mark_safe('<span class="muted">—</span>')


def person(member: Any, profile_url: str) -> SafeString:
    email = (
        format_html('<span class="person-email">{}</span>', member.email)
        if member.email and member.name
        else ""
    )
    return format_html(
        '<a class="person" href="{}"><span class="avatar" aria-hidden="true">{}</span>'
        '<span><span class="person-name">{}</span>{}</span></a>',
        profile_url,
        member.initials,
        member.display_name,
        email,
    )


def date(value: datetime | None) -> SafeString | str:
    if not value:
        return ""
    local = localtime(value)  # in the current time zone, as the |date filter shows it
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), _day(local))


def since(value: datetime | None) -> SafeString:
    if not value:
        return NEVER
    local = localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        f"{_day(local)} {local:%H:%M}",
        ago(value),
    )


def _day(local: datetime) -> str:
    """`|date:"M j, Y"` ("Nov 3, 2026"), without parsing the format for each of 100 cells."""
    return f"{MONTHS_3[local.month].title()} {local.day}, {local.year}"


def score(value: Decimal | None) -> SafeString | str:
    # As |floatformat:2 in English (the app's one language), without a locale lookup per cell.
    return NO_SCORE if value is None else f"{value:.2f}"


def text(value: Any) -> Any:
    return value  # escaped by td()


VALUE_KINDS: dict[str, Callable[[Any], Any]] = {
    "date": date,
    "since": since,
    "score": score,
    "text": text,
}


def td(key: str, kind: str) -> Callable[[Any], str]:
    """The `<td>` of a column, as a function of its content (escaped unless already safe)."""
    opening = format_html('<td class="col-{} cell-{}">', key, kind)
    return lambda content: f"{opening}{conditional_escape(content)}</td>"
