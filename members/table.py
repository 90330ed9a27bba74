"""The community table: its columns, and how higher apps add theirs.

`members` never imports `engagement` or `segments` (dependencies point one way), so those apps
register a `TableExtension` in their `AppConfig.ready()`: columns to show and sort by, the
annotations those columns read, a FilterSet of their own, a template for the filter panel and
one shown above the rows (the segment pills).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import django_filters
from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe

from . import cells

CellKind = Literal["person", "text", "date", "since", "score"]


@dataclass(frozen=True)
class Column:
    key: str  # the sort parameter, and the row's attribute: a field or an annotation
    label: str
    kind: CellKind = "text"

    @property
    def descending_first(self) -> bool:
        """Dates and scores sort newest/highest first on the first click; text A to Z."""
        return self.kind in ("date", "since", "score")


@dataclass(frozen=True)
class Cell:
    column: Column
    value: Any


@dataclass(frozen=True)
class Row:
    member: Any
    cells: list[Cell]
    html: SafeString  # the row's <td> elements (members/cells.py)


class TableExtension:
    columns: tuple[Column, ...] = ()
    filterset_class: type[django_filters.FilterSet] | None = None
    filter_template: str = ""  # included in the Filters panel, with `filters` in context
    header_template: str = ""  # included at the top of the table's region (segment pills)

    def annotate(self, queryset: QuerySet) -> QuerySet:
        return queryset


BASE_COLUMNS = (
    Column("name", "Name", "person"),
    Column("company_name", "Company"),
    Column("job_title", "Job title"),
    Column("city", "City"),
    Column("country", "Country"),
    Column("joined_at", "Joined", "date"),
    Column("last_seen_at", "Last seen", "since"),
)

_extensions: list[TableExtension] = []


def register(extension: TableExtension) -> None:
    _extensions.append(extension)


def extensions() -> tuple[TableExtension, ...]:
    return tuple(_extensions)


def columns() -> tuple[Column, ...]:
    return BASE_COLUMNS + tuple(c for e in _extensions for c in e.columns)


def annotate(queryset: QuerySet) -> QuerySet:
    for extension in _extensions:
        queryset = extension.annotate(queryset)
    return queryset


def rows(members: list, shown: tuple[Column, ...], profile_url: Callable[[Any], str]) -> list[Row]:
    """The page's rows; `profile_url(member)` is where the person cell links."""
    tds = [cells.td(column.key, column.kind) for column in shown]
    result = []
    for member in members:
        row_cells = [Cell(column, getattr(member, column.key)) for column in shown]
        html = "".join(
            td(
                cells.person(member, profile_url(member))
                if cell.column.kind == "person"
                else cells.VALUE_KINDS[cell.column.kind](cell.value)
            )
            for td, cell in zip(tds, row_cells, strict=True)
        )
        result.append(Row(member, row_cells, mark_safe(html)))  # noqa: S308 (cells.td escaped it)
    return result
