"""The importers the Imports page offers (DESIGN §7 "Imports: upload members or activities CSV").

Members cannot import the apps above them (DESIGN §3), so the page does not know every importer:
each app registers its own with `register()` when it loads; members registers the members
importer below, engagement registers the activities importer from its `ready()`. The page lists
them in registration order and runs the one the manager picked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from .csv_import import ImportReport
from .importing import COLUMNS, import_members
from .models import Community


class ImportFunction(Protocol):
    def __call__(
        self, *, community: Community, file: IO[bytes], skip_invalid: bool = False
    ) -> ImportReport: ...


@dataclass(frozen=True)
class Importer:
    slug: str  # in the page's URL: ?importer=<slug>
    noun: str  # plural, lower case: "members" (the form says "Members CSV file")
    run: ImportFunction
    columns: dict[str, str]  # column name -> what it holds, in the order to explain them
    matching: str  # how rows find what they update, in a sentence or two
    counts: tuple[tuple[str, str], ...]  # (label, ImportReport attribute) for the report
    command: str  # the management command that does the same, for very long reports
    # Called after an upload that wrote something (not rolled back), inside its transaction.
    after_import: Callable[[Community], None] | None = field(default=None, compare=False)

    @property
    def file_label(self) -> str:
        return f"{self.noun.capitalize()} CSV file"


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
        columns=COLUMNS,
        matching=(
            "Each row updates the member with the same source and external_id, else the member "
            "with the same email, else adds a new member. Only the columns in the file are "
            "written: an empty cell clears the value, a column left out keeps it. Any other "
            "column is kept as an extra attribute of the member."
        ),
        counts=(("Members created", "created"), ("Members updated", "updated")),
        command="import_members",
    )
)
