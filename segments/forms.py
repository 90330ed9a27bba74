"""The fields of the segment dialog besides the rule (segments/builder.py holds the rule)."""

from django import forms

from .models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, Color, Kind


class SegmentForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices, widget=forms.RadioSelect, initial=Kind.SMART)
    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    color = forms.ChoiceField(choices=Color.choices, initial=Color.BLUE)
    pinned = forms.BooleanField(required=False, label="Pin as a pill above the members table")
    review_every_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Remind me to review it every (days)",
    )
    # Manual segments: names or emails, one per line or separated by commas.
    entries = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    # Manual segments: find members by name or email to add them to the entries.
    search = forms.CharField(required=False, max_length=200)
    # The segment's edit_version when the dialog opened: a save over someone else's is refused.
    edit_version = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def kind_value(self) -> str:
        value = self["kind"].value()
        return value if value in Kind.values else Kind.SMART


class AddMembersForm(forms.Form):
    entries = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Names or emails",
        help_text="One per line or separated by commas.",
    )
