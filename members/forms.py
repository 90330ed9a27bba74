from django import forms


class ImportForm(forms.Form):
    """An upload for one importer of members/imports.py; the file is labelled for it."""

    file = forms.FileField(
        label="Members CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
    skip_invalid = forms.BooleanField(
        label="Skip invalid rows",
        required=False,
        help_text="Import the valid rows and list the others. "
        "Otherwise one invalid row stops the whole import.",
    )

    def __init__(self, *args, file_label: str = "Members CSV file", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].label = file_label
