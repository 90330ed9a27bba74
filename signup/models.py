"""A community's public join page and the signups waiting for their email to be confirmed.

Above `members` and `engagement`, below `segments` (which it never imports): a confirmed signup
writes a member and sends `members.signals.members_changed`, through which the apps above
react (README "Join page (signup form)").
"""

from __future__ import annotations

import hashlib
from typing import TypedDict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from members.models import Community

MAX_QUESTIONS = 5
QUESTION_LABEL_MAX = 100  # it names a member attribute, which imports bound to 100 as well
ANSWER_MAX = 500


class FieldMode(models.TextChoices):
    OFF = "off", "Not asked"
    OPTIONAL = "optional", "Optional"
    REQUIRED = "required", "Required"


# The member fields a join page may ask for, besides name and email: (field, label).
PROFILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("company_name", "Company"),
    ("job_title", "Job title"),
    ("city", "City"),
    ("country", "Country"),
    ("location", "Location"),
)


class Question(TypedDict):
    label: str
    required: bool


def clean_questions(value: object) -> list[Question]:
    """The stored form of the page's own questions, or ValidationError saying what is wrong."""
    if not isinstance(value, list):
        raise ValidationError("The questions are a list.")
    if len(value) > MAX_QUESTIONS:
        raise ValidationError(f"A join page asks at most {MAX_QUESTIONS} questions of its own.")
    questions: list[Question] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, dict) or set(item) != {"label", "required"}:
            raise ValidationError('Each question is {"label": ..., "required": true or false}.')
        label, required = item["label"], item["required"]
        if not isinstance(label, str) or not label.strip() or not isinstance(required, bool):
            raise ValidationError("Each question needs a label and says whether it is required.")
        label = label.strip()
        if len(label) > QUESTION_LABEL_MAX or "\x00" in label:
            raise ValidationError(
                f"A question's label is at most {QUESTION_LABEL_MAX} characters, without NUL."
            )
        if label.casefold() in seen:
            raise ValidationError(f"Two questions are called {label!r}: each keeps its answers.")
        seen.add(label.casefold())
        questions.append({"label": label, "required": required})
    return questions


class JoinPage(models.Model):
    """What `/join/<slug>/` shows and asks; off until an admin switches it on."""

    community = models.OneToOneField(
        Community, on_delete=models.CASCADE, related_name="join_page", primary_key=True
    )
    enabled = models.BooleanField(
        default=False, help_text="Published at /join/<slug>/; off, that address is a 404."
    )
    title = models.CharField(max_length=200, blank=True, help_text='Empty: "Join <community>".')
    intro = models.TextField(max_length=2000, blank=True)
    company_name = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OFF)
    job_title = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OFF)
    city = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OFF)
    country = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OFF)
    location = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OFF)
    questions = models.JSONField(
        default=list,
        blank=True,
        validators=[clean_questions],
        help_text='Up to five: [{"label": "What do you build?", "required": false}].',
    )
    consent_text = models.TextField(
        max_length=1000,
        blank=True,
        help_text="Shown next to a checkbox the visitor must tick; empty: no checkbox.",
    )
    welcome_text = models.TextField(max_length=2000, blank=True)
    invite_url = models.URLField(
        max_length=500, blank=True, help_text="Shown after confirmation, e.g. a Slack invite."
    )
    invite_label = models.CharField(max_length=80, blank=True, default="Accept your invite")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Join page of {self.community}"

    def get_absolute_url(self) -> str:
        return reverse("signup:join", args=[self.community.slug])

    @property
    def heading(self) -> str:
        return self.title or f"Join {self.community.name}"

    def profile_fields(self) -> list[tuple[str, str, bool]]:
        """(field, label, required) of the member fields this page asks for, in order."""
        return [
            (name, label, getattr(self, name) == FieldMode.REQUIRED)
            for name, label in PROFILE_FIELDS
            if getattr(self, name) != FieldMode.OFF
        ]


def token_hash(token: str) -> str:
    """What is stored of a confirmation token: its SHA-256, so the table holds no usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


class PendingSignupQuerySet(models.QuerySet["PendingSignup"]):
    def for_community(self, community: Community) -> PendingSignupQuerySet:
        return self.filter(community=community)


class PendingSignup(models.Model):
    """One submitted join form, waiting for its address to be confirmed by the emailed link.

    The rows also count the requests of an address and of a client address for the rate limit
    (signup/services.py); the sweep deletes them once they can count no more and their link
    no longer works, and a confirmation clears the answers at once (they are on the member).
    """

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="pending_signups"
    )
    email = models.CharField(max_length=254, help_text="Lower-cased, as it is matched.")
    answers = models.JSONField(default=dict, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    client_hash = models.CharField(
        max_length=64, help_text="A keyed hash of the client's address, for the rate limit."
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PendingSignupQuerySet.as_manager()

    class Meta:
        indexes = [
            # The rate limits: an address's and a client's requests in the last window.
            models.Index(fields=["email", "created_at"], name="signup_by_email"),
            models.Index(fields=["client_hash", "created_at"], name="signup_by_client"),
        ]

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"Signup of {self.email} to {self.community_id} ({state})"
