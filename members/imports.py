"""The importers the Imports page offers (README "Imports").

Members cannot import the apps above them (segments → engagement → members), so the page
does not know every importer: each app registers its own with `register()` when it loads;
members registers the members importer below, engagement registers the activities importer
from its `ready()`. The page lists them in registration order; an import job (members/jobs.py)
runs the one the manager picked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from .importing import ALIASES, COLUMNS, import_members, preview_members
from .mapping import ATTRIBUTE, ImportOptions, Preview
from .models import Community
from .reports import ImportReport


class ImportFunction(Protocol):
    """What an importer's `run` is. An importer of exports also takes `label`, the uploaded
    file's name, which its messages name the entries after (members/jobs.py passes it)."""

    def __call__(
        self,
        *,
        community: Community,
        # IO[bytes] opened in binary mode; an importer of exports also takes a folder's Path.
        file: Any,
        skip_invalid: bool = False,
        options: ImportOptions | None = None,
        progress: Callable[[int], object] | None = None,
        dry_run: bool = False,
    ) -> ImportReport: ...


class PreviewFunction(Protocol):
    def __call__(
        self, *, community: Community, file: IO[bytes], options: ImportOptions
    ) -> Preview: ...


@dataclass(frozen=True)
class Importer:
    """An importer of tables (a CSV or XLSX file whose columns the manager maps: `preview`,
    `columns`, `aliases`, `unknown`) or of a platform's export (`export` set: a zip, a folder
    or one file in the platform's own format, read as the platform writes it, with no mapping
    to choose; `columns` then says what each file of the export gives)."""

    slug: str  # in the page's URL: ?importer=<slug>
    noun: str  # plural, lower case: "members" (the form says "Members file")
    run: ImportFunction
    preview: PreviewFunction | None  # None for an export: nothing to map
    columns: dict[str, str]  # field (or file of an export) -> what it holds, in order
    aliases: Mapping[str, tuple[str, ...]]  # field -> other column names that mean it
    unknown: str  # what a column that names no field becomes: ATTRIBUTE or IGNORE
    matching: str  # how rows find what they update, in a sentence or two
    command: str  # the management command that does the same
    # Called by an import job (members/jobs.py) after an import that wrote something (not
    # rolled back), once its transaction has committed; the commands do their own follow-up.
    after_import: Callable[[Community], None] | None = field(default=None, compare=False)
    export: PlatformExport | None = None
    label: str = ""  # the importer's name on the page's tabs; the noun capitalized by default

    @property
    def title(self) -> str:
        return self.label or self.noun.capitalize()

    @property
    def file_label(self) -> str:
        if self.export is not None:
            return f"{self.title} ({self.export.file_kinds})"
        return f"{self.noun.capitalize()} file (CSV or XLSX)"

    @property
    def accept(self) -> str:
        """The upload field's `accept`: the file types a browser offers to pick."""
        if self.export is not None:
            return self.export.accept
        return (
            ".csv,text/csv,.xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )


@dataclass(frozen=True)
class PlatformExport:
    """How a manager gets a platform's export, and what the upload may be."""

    platform: str  # "Slack"
    steps: tuple[str, ...]  # how to export it from the platform, one step a line
    file_kinds: str = "a .zip file"  # what may be uploaded, in words
    accept: str = ".zip,application/zip"


_importers: dict[str, Importer] = {}


def register(importer: Importer) -> None:
    """Offer `importer` on the Imports page; registering the same slug again replaces it."""
    _importers[importer.slug] = importer


def importers() -> list[Importer]:
    return list(_importers.values())


def get_importer(slug: str) -> Importer | None:
    return _importers.get(slug)


register(
    Importer(
        slug="members",
        noun="members",
        run=import_members,
        preview=preview_members,
        columns=COLUMNS,
        aliases=ALIASES,
        unknown=ATTRIBUTE,
        matching=(
            "Each row updates the member with the same source and external_id, else the member "
            "with the same email (in any letter case), else the one member with exactly that "
            "name when the row has neither; otherwise it adds a member. A row that would add a "
            "second member of a name already taken is skipped and listed. Only mapped columns "
            "are written, an empty cell keeps the stored value unless you choose that empty "
            "cells clear it, and rows that change nothing write nothing. Any other column is "
            "kept as an extra attribute of the member."
        ),
        command="import_members",
    )
)
