"""The public join form, built from a community's JoinPage, and the admins' form that edits it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator
from django.db import models

from members.models import Member

from .models import (
    ANSWER_MAX,
    MAX_QUESTIONS,
    PROFILE_FIELDS,
    QUESTION_LABEL_MAX,
    JoinPage,
    Question,
)

# A field no person sees (it is off-screen and out of the tab order, app.css `.join-trap`) and
# only form-filling robots fill in: a request that has it is answered as any other, and dropped.
HONEYPOT = "website"

# The browser's autofill names of the member fields, so that a phone fills them in one tap.
AUTOCOMPLETE = {
    "name": "name",
    "email": "email",
    "company_name": "organization",
    "job_title": "organization-title",
    "city": "address-level2",
    "country": "country-name",
    "location": "off",
}


def _max_length(name: str) -> int:
    field = Member._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"Member.{name} is not a bounded text field")
    return field.max_length


class JoinForm(forms.Form):
    """Name, email, the member fields the page asks for, its own questions and the consent.

    Every value is bounded (the member's own column sizes, answers of ANSWER_MAX characters);
    a NUL anywhere is a field error (Django's CharField refuses it).
    """

    name = forms.CharField(label="Name", max_length=_max_length("name"))
    email = forms.EmailField(label="Email", max_length=_max_length("email"))

    def __init__(self, *args: Any, page: JoinPage, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "join-%s")
        super().__init__(*args, **kwargs)
        self.page = page
        for name, label, required in page.profile_fields():
            self.fields[name] = forms.CharField(
                label=label, max_length=_max_length(name), required=required
            )
        self.question_fields: list[tuple[str, Question]] = []
        for index, question in enumerate(page.questions[:MAX_QUESTIONS], start=1):
            name = f"question_{index}"
            self.fields[name] = forms.CharField(
                label=question["label"], max_length=ANSWER_MAX, required=question["required"]
            )
            self.question_fields.append((name, question))
        if page.consent_text:
            self.fields["consent"] = forms.BooleanField(
                label=page.consent_text,
                error_messages={"required": "Please tick this box to join."},
            )
        for name, field in self.fields.items():
            field.widget.attrs["autocomplete"] = AUTOCOMPLETE.get(name, "off")
        self.fields["email"].widget.attrs.update(spellcheck="false", autocapitalize="off")

    def is_spam(self) -> bool:
        """The honeypot was filled in: answer as usual, keep and send nothing."""
        return bool(self.data.get(HONEYPOT))

    def answers(self) -> dict[str, Any]:
        """What is kept until the address is confirmed: the member fields by name, the
        questions' answers by their label (as the page asked them), and the consent."""
        data = self.cleaned_data
        answers: dict[str, Any] = {"name": data["name"], "email": data["email"]}
        for name, _label, _required in self.page.profile_fields():
            answers[name] = data.get(name, "")
        answers["questions"] = {
            question["label"]: data.get(name, "") for name, question in self.question_fields
        }
        if self.page.consent_text:
            answers["consent"] = self.page.consent_text
        return answers


class JoinPageForm(forms.ModelForm):
    """The Settings page's form: the page's texts, the fields it asks, its own questions."""

    invite_url = forms.URLField(
        label="Invite link",
        required=False,
        max_length=500,
        validators=[URLValidator(schemes=["https", "http"])],
        assume_scheme="https",
        help_text="Shown after the email is confirmed, e.g. your Slack invite link.",
    )

    class Meta:
        model = JoinPage
        fields = [
            "enabled",
            "title",
            "intro",
            *(name for name, _label in PROFILE_FIELDS),
            "consent_text",
            "welcome_text",
            "invite_url",
            "invite_label",
        ]
        labels = {
            "enabled": "Publish the join page",
            "title": "Title",
            "intro": "Introduction",
            **dict(PROFILE_FIELDS),
            "consent_text": "Consent line",
            "welcome_text": "Welcome text",
            "invite_label": "Invite button text",
        }
        help_texts = {
            "enabled": "Anyone with the link can then ask to join; off, the link is a 404.",
            "title": "Empty: “Join <community name>”.",
            "intro": "A few lines above the form.",
            "consent_text": "Shown next to a checkbox the visitor must tick, e.g. “I agree that "
            "Acme keeps my details to run the community.” Empty: no checkbox.",
            "welcome_text": "Shown once the email address is confirmed.",
        }
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 2}),
            "welcome_text": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = list(self.instance.questions or [])
        self.question_rows: list[tuple[forms.BoundField, forms.BoundField]] = []
        for index in range(1, MAX_QUESTIONS + 1):
            stored = questions[index - 1] if index <= len(questions) else None
            label, required = f"question_{index}", f"question_{index}_required"
            self.fields[label] = forms.CharField(
                label=f"Question {index}",
                max_length=QUESTION_LABEL_MAX,
                required=False,
                initial=stored["label"] if stored else "",
            )
            self.fields[required] = forms.BooleanField(
                label=f"Question {index} is required",
                required=False,
                initial=stored["required"] if stored else False,
            )
            self.question_rows.append((self[label], self[required]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        questions = []
        seen: dict[str, str] = {}
        for index in range(1, MAX_QUESTIONS + 1):
            label = data.get(f"question_{index}", "")
            required = data.get(f"question_{index}_required", False)
            if not label:
                if required:
                    self.add_error(f"question_{index}", "A required question needs a label.")
                continue
            if label.casefold() in seen:
                self.add_error(
                    f"question_{index}",
                    f"{seen[label.casefold()]} is called the same: each question keeps its "
                    "answers under its label, so labels must differ.",
                )
                continue
            seen[label.casefold()] = f"Question {index}"
            questions.append({"label": label, "required": required})
        self.instance.questions = questions
        return data
