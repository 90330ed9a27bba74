from __future__ import annotations

from django import forms

from .models import USER_KINDS, EmailKind, Frequency


class PreferencesForm(forms.Form):
    """One checkbox per kind of email a user can turn off."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in USER_KINDS:
            self.fields[kind] = forms.BooleanField(
                required=False, label=EmailKind(kind).label, initial=True
            )

    def enabled(self) -> set[str]:
        return {kind for kind in USER_KINDS if self.cleaned_data.get(kind)}


class WatchForm(forms.Form):
    action = forms.ChoiceField(choices=[("watch", "Watch"), ("stop", "Stop watching")])
    frequency = forms.ChoiceField(choices=Frequency.choices, required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "watch" and not data.get("frequency"):
            self.add_error("frequency", "Choose daily or weekly.")
        return data
