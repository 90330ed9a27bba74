"""The activities importer on the Imports page (members/imports.py), registered from ready().

After an upload from the web the community is rescored in the background, once the import has
committed, rather than inside the request.
"""

from __future__ import annotations

from members.imports import Importer, register

from .importing import ALIASES, COLUMNS, UNKNOWN, import_activities, preview_activities
from .tasks import rescore_later

ACTIVITIES = Importer(
    slug="activities",
    noun="activities",
    run=import_activities,
    preview=preview_activities,
    columns=COLUMNS,
    aliases=ALIASES,
    unknown=UNKNOWN,
    matching=(
        "Each row belongs to the member with that source and member_external_id, or else "
        "with that member_email; an unknown member or kind makes the row invalid. A row "
        "whose source and external_id were imported before is left alone, so importing the "
        "same file again adds nothing. Scores are updated after the import."
    ),
    command="import_activities",
    after_import=rescore_later,
)
register(ACTIVITIES)
