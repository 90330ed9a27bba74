"""A staging table: where an import's rows wait, validated, before a few set-based statements
merge them into the real tables (README "Imports").

A temporary table of the import's own connection, so two imports never see each other's rows
and nothing is left behind by a crash (the database drops it with the session). Rows go in with
COPY on PostgreSQL, the fastest way in, and with batched INSERTs on SQLite; `write` takes any
iterable and sends it in batches of BATCH_ROWS rows or BATCH_CHARS characters, so memory stays
flat in the file's size, and calls `on_batch` after each batch (an import job's progress is
written then, outside the COPY).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from django.db import connection

BATCH_ROWS = 10_000
# ... and a batch is sent once it holds this many characters: rows may have cells of 128 KiB.
BATCH_CHARS = 4_000_000
# From this many staged rows on, a merge plans its joins as hash or merge joins (plan_for_bulk).
BULK_ROWS = 10_000

# Column type -> (PostgreSQL type, SQLite type).
_TYPES = {
    "int": ("integer", "integer"),
    "bigint": ("bigint", "integer"),
    "text": ("text", "text"),
    "timestamp": ("timestamptz", "text"),
    "json": ("jsonb", "text"),
    "bool": ("boolean", "integer"),
}


class StageTable:
    """`with StageTable([("line", "int"), ("email", "text")]) as stage: stage.write(rows)`.

    `name` is the table's name for SQL; columns past those written (the ones an importer fills
    in while matching, such as a member id) are NULL until it updates them.
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, prefix: str = "import_stage") -> None:
        self.columns = list(columns)
        self.name = f"{prefix}_{secrets.token_hex(6)}"
        self.postgres = connection.vendor == "postgresql"

    def __enter__(self) -> StageTable:
        kind = 0 if self.postgres else 1
        columns = ", ".join(f"{name} {_TYPES[type_][kind]}" for name, type_ in self.columns)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {self.name} ({columns})")
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Gone already when a rollback undid its creation; dropped here otherwise.
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.name}")

    def write(
        self,
        rows: Iterable[Sequence[object]],
        columns: Sequence[str],
        *,
        on_batch: Callable[[], object] | None = None,
    ) -> None:
        """Add `rows`, tuples of the values of `columns`, in batches of at most BATCH_ROWS rows
        and about BATCH_CHARS characters."""
        batch: list[Sequence[object]] = []
        chars = 0
        for row in rows:
            batch.append(row)
            chars += sum(len(value) for value in row if isinstance(value, str))
            if len(batch) >= BATCH_ROWS or chars >= BATCH_CHARS:
                self._write_batch(batch, columns)
                batch, chars = [], 0
                if on_batch is not None:
                    on_batch()
        if batch:
            self._write_batch(batch, columns)
        if on_batch is not None:
            on_batch()

    def _write_batch(self, batch: list[Sequence[object]], columns: Sequence[str]) -> None:
        names = ", ".join(columns)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {self.name} ({names}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                marks = ", ".join("%s" for _ in columns)
                cursor.executemany(f"INSERT INTO {self.name} ({names}) VALUES ({marks})", batch)

    def value(self, moment: datetime | None) -> object:
        """A date-time as this database's staging column takes it: aware on PostgreSQL, naive
        UTC text on SQLite, which is how Django stores it there."""
        if moment is None or self.postgres:
            return moment
        return str(moment.astimezone(UTC).replace(tzinfo=None))

    def plan_for_bulk(self, rows: int) -> None:
        """Tell PostgreSQL's planner, for the rest of the transaction, that the merge joins
        many rows: no nested loops once the stage holds BULK_ROWS rows or more. Right after a
        bulk import the members table has no fresh statistics; the planner then takes it for a
        few rows and loops over it once per staged row (minutes instead of a second)."""
        if self.postgres and rows >= BULK_ROWS:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_nestloop = off")

    def index(self, *columns: str) -> None:
        """An index on `columns`, for the joins of the merge (create it after writing)."""
        name = f"{self.name}_{'_'.join(columns)}"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {name} ON {self.name} ({', '.join(columns)})")
        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.name}")
