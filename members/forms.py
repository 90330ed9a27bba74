from django import forms

from .csv_import import ENCODINGS
from .imports import Importer
from .mapping import ATTRIBUTE, BLANKS, DATE_FORMATS, IGNORE, ImportOptions, Preview


class ImportForm(forms.Form):
    """An upload for one importer of members/imports.py; the file is labelled for it, and a
    table's text encoding may be chosen."""

    file = forms.FileField(label="File")
    encoding = forms.ChoiceField(
        label="Text encoding of a CSV file",
        choices=list(ENCODINGS.items()),
        initial="utf-8",
        required=False,  # UTF-8 when left out
        help_text="UTF-16 with a byte-order mark is recognised by itself.",
    )

    def __init__(self, *args, importer: Importer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].label = importer.file_label
        self.fields["file"].widget.attrs["accept"] = importer.accept
        if importer.export is not None:
            del self.fields["encoding"]  # the platform's own format says


class MappingForm(forms.Form):
    """The manager's choices for a job: a field for each column, the date format, what an empty
    cell means, and whether invalid rows are skipped. Columns are named by position (`map_0`,
    `map_1`, ...), since a header may name them anyhow."""

    date_format = forms.ChoiceField(
        label="Dates that are not ISO 8601", choices=list(DATE_FORMATS.items()), initial="iso"
    )
    blank = forms.ChoiceField(
        label="Empty cells", choices=list(BLANKS.items()), initial="keep", widget=forms.RadioSelect
    )
    encoding = forms.ChoiceField(label="Text encoding", choices=list(ENCODINGS.items()))
    skip_invalid = forms.BooleanField(
        label="Skip invalid rows",
        required=False,
        help_text="Import the valid rows and list the others. "
        "Otherwise one invalid row stops the whole import.",
    )
    # Only for an importer whose rows belong to an event (its fields include "event"): a file
    # exported for one event often does not name it.
    event = forms.CharField(
        label="Event",
        required=False,
        max_length=200,
        help_text="The event's name, for a file without an event column (a Luma or Meetup "
        "export is for one event).",
    )
    event_date = forms.CharField(
        label="Event date",
        required=False,
        max_length=40,
        help_text="When it took place: attendances marked only yes or no are dated by it.",
    )

    def __init__(self, *args, importer: Importer, preview: Preview, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "event" not in importer.columns:
            del self.fields["event"], self.fields["event_date"]
        choices = [(name, name) for name in importer.columns]
        choices.append((IGNORE, "Ignore this column"))
        if importer.unknown == ATTRIBUTE:
            choices.append((ATTRIBUTE, "Keep as an extra attribute"))
        self.column_fields: list[tuple[str, str]] = []  # (column, form field name)
        for index, column in enumerate(preview.columns):
            name = f"map_{index}"
            self.fields[name] = forms.ChoiceField(
                label=f'Column "{column[:60]}"', choices=choices, initial=preview.mapping[column]
            )
            self.column_fields.append((column, name))

    def mapped_columns(self):
        """(column, bound field) for the template's mapping table."""
        return [(column, self[name]) for column, name in self.column_fields]

    def options(self) -> ImportOptions:
        data = self.cleaned_data
        return ImportOptions(
            mapping={column: data[name] for column, name in self.column_fields},
            date_format=data["date_format"],
            blank=data["blank"],
            encoding=data["encoding"],
            event=data.get("event", "").strip(),
            event_date=data.get("event_date", "").strip(),
        )

    def clean(self):
        data = super().clean()
        fed: dict[str, str] = {}
        for column, name in self.column_fields:
            target = data.get(name)
            if target in (None, IGNORE, ATTRIBUTE):
                continue
            if target in fed:
                self.add_error(
                    name, f'"{fed[target][:60]}" is mapped to {target} already: choose one.'
                )
            fed.setdefault(target, column)
        return data
