from django import forms

from .models import ActivityKind

TREND_RANGES = {12: "12 weeks", 26: "6 months", 52: "1 year"}
DEFAULT_TREND_WEEKS = 26


class TrendRangeForm(forms.Form):
    """The Engagement page's `weeks` parameter: how much history the trend chart shows."""

    weeks = forms.TypedChoiceField(
        choices=list(TREND_RANGES.items()), coerce=int, required=False, empty_value=None
    )

    def weeks_or_default(self) -> int:
        if self.is_valid() and self.cleaned_data["weeks"]:
            return self.cleaned_data["weeks"]
        return DEFAULT_TREND_WEEKS


class ActivityKindForm(forms.ModelForm):
    weight = forms.FloatField(
        min_value=0,
        help_text="Impact points per activity.",
        widget=forms.NumberInput({"step": "any"}),
    )
    daily_cap = forms.IntegerField(
        min_value=1, help_text="At most this many count per member and day."
    )

    class Meta:
        model = ActivityKind
        fields = ["weight", "daily_cap", "initiated"]


class BaseActivityKindFormSet(forms.BaseModelFormSet):
    """Only ever touches the kinds in its queryset (the community's own).

    Django's hidden `id` field accepts any row of the table; a forged id of another community's
    kind would be silently dropped. Here it is refused with a validation error instead.
    """

    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["id"].queryset = self.get_queryset()  # type: ignore[attr-defined]


# `edit_only`: extra forms in forged POST data never create kinds.
ActivityKindFormSet = forms.modelformset_factory(
    ActivityKind,
    form=ActivityKindForm,
    formset=BaseActivityKindFormSet,
    extra=0,
    edit_only=True,
)
