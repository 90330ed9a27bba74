from django import forms

from .models import MAX_DAILY_CAP, MAX_WEIGHT, MIN_DAILY_CAP, ActivityKind

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


WEIGHT_RANGE = f"Weight must be a number from 0 to {MAX_WEIGHT:,}."
DAILY_CAP_RANGE = f"Daily cap must be a whole number from {MIN_DAILY_CAP} to {MAX_DAILY_CAP:,}."


class ActivityKindForm(forms.ModelForm):
    """One kind's settings, bounded as the model's constraints are (engagement/models.py).

    FloatField refuses "inf" and "nan" as not a number; every refusal names the field.
    """

    weight = forms.FloatField(
        min_value=0,
        max_value=MAX_WEIGHT,
        help_text="Impact points per activity.",
        widget=forms.NumberInput({"step": "any"}),
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), WEIGHT_RANGE),
    )
    daily_cap = forms.IntegerField(
        min_value=MIN_DAILY_CAP,
        max_value=MAX_DAILY_CAP,
        help_text="At most this many count per member and day.",
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), DAILY_CAP_RANGE),
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
