from django import forms


class MemberImportForm(forms.Form):
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
