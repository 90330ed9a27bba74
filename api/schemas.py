"""The API's request and response bodies (Pydantic, through django-ninja): the same types
validate what comes in and make the OpenAPI schema at /api/v1/openapi.json.

Every text that comes in is checked for what no column can hold (a NUL character, a lone
surrogate): PostgreSQL would refuse it with an error, so it is a 422 naming the field here.
Ids are bigints (1 to 2**63 - 1), dates ISO 8601 (no offset means UTC). Input objects refuse
unknown keys, so a misspelt field is an error rather than silently ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from community_os.ids import MAX_ID

MAX_BATCH = 1_000  # activities in one POST
MAX_ENTRIES = 10_000  # member ids or emails added to (or removed from) a segment at once
MAX_LIMIT = 200  # items in one page
DEFAULT_LIMIT = 50


def clean_text(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text may not contain a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "surrogate", "Text must be valid Unicode (it holds a lone surrogate)."
        ) from None
    return value


def _aware(value: datetime) -> datetime:
    """No offset means UTC; the instant must lie within the calendar in UTC too."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "The date-time lies outside the years 1 to 9999 in UTC."
        ) from None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ].*)?", re.DOTALL)


def _iso(pattern: re.Pattern, what: str):
    def check(value: object) -> object:
        """ISO 8601 text, as the schema says: not a number, which Pydantic would read as a
        Unix time."""
        if isinstance(value, date):
            return value
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise PydanticCustomError("iso_text", f"Give {what} in ISO 8601, as text.")
        return value

    return check


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("email", "Enter a valid email address.") from None
    return value


_url = URLValidator(schemes=["http", "https"])


def _http_url(value: str) -> str:
    if not value:
        return value
    try:
        _url(value)
    except DjangoValidationError:
        raise PydanticCustomError("url", "Enter an http or https URL.") from None
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Instant = Annotated[
    datetime,
    Field(strict=False),
    BeforeValidator(_iso(_ISO_DATETIME, "a date or date-time")),
    AfterValidator(_aware),
]
IsoDate = Annotated[
    date,
    Field(strict=False, json_schema_extra={"pattern": r"^\d{4}-\d{2}-\d{2}$"}),
    BeforeValidator(_iso(_ISO_DATE, "a date, YYYY-MM-DD,")),
]
Email = Annotated[str, Field(max_length=254), AfterValidator(clean_text), AfterValidator(_email)]
Url = Annotated[str, Field(max_length=500), AfterValidator(clean_text), AfterValidator(_http_url)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Text100 = Annotated[str, Field(max_length=100), AfterValidator(clean_text)]
Text100NonEmpty = Annotated[str, Field(max_length=100, min_length=1), AfterValidator(clean_text)]
Text10000 = Annotated[str, Field(max_length=10_000), AfterValidator(clean_text)]
Text200 = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
Text200NonEmpty = Annotated[str, Field(max_length=200, min_length=1), AfterValidator(clean_text)]
Text2000 = Annotated[str, Field(max_length=2_000), AfterValidator(clean_text)]
Text320NonEmpty = Annotated[str, Field(max_length=320, min_length=1), AfterValidator(clean_text)]
Text500 = Annotated[str, Field(max_length=500), AfterValidator(clean_text)]
Text50NonEmpty = Annotated[str, Field(max_length=50, min_length=1), AfterValidator(clean_text)]
Text64 = Annotated[str, Field(max_length=64), AfterValidator(clean_text)]
Source = Text50NonEmpty
ExternalId = Text200NonEmpty
Cursor = Text200


class Input(BaseModel):
    """A request body: unknown keys are refused, and values must have the schema's JSON type
    (no "5" for 5, no 1 for true)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --- Problems (RFC 9457) ------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str = Field(description='The field, as a path: "name", "activities[3].kind".')
    message: str


class Problem(BaseModel):
    """Every error: RFC 9457 problem details, served as application/problem+json."""

    type: str = Field("about:blank", description="about:blank: the status says what happened.")
    title: str = Field(description="The HTTP status's phrase, e.g. Unprocessable Content.")
    status: int
    detail: str = Field(description="What went wrong, in a sentence.")
    errors: list[FieldError] = Field(
        default_factory=list, description="Each field that was refused, with why."
    )


# --- Members ------------------------------------------------------------------------------------


class IdentityOut(BaseModel):
    source: str
    external_id: str


class ScoresOut(BaseModel):
    frequency: float
    recency: float
    impact: float
    engagement: float
    active_days_90: int
    as_of: datetime


class MemberOut(BaseModel):
    id: int
    name: str
    email: str
    company_name: str
    job_title: str
    location: str
    city: str
    country: str
    bio: str
    avatar_url: str
    joined_at: datetime | None
    last_seen_at: datetime | None
    attributes: dict[str, Any]
    identities: list[IdentityOut]
    scores: ScoresOut | None = Field(description="None until the member's first scoring.")
    created_at: datetime
    updated_at: datetime


class MemberPage(BaseModel):
    items: list[MemberOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class MemberIn(Input):
    """A member to create or update: found by (source, external_id), else by email in any
    letter case; otherwise created. A field left out (or empty) keeps the stored value."""

    source: Source | None = Field(None, description='Where external_id comes from: "hubspot".')
    external_id: ExternalId | None = None
    email: Email | None = None
    name: Text200 | None = None
    company_name: Text200 | None = None
    job_title: Text200 | None = None
    location: Text200 | None = None
    city: Text100 | None = None
    country: Text100 | None = None
    bio: Text10000 | None = None
    joined_at: Instant | None = None
    last_seen_at: Instant | None = None
    attributes: dict[Text100NonEmpty, Text2000] = Field(
        default_factory=dict, max_length=100, description="Extra attributes, text values."
    )

    @model_validator(mode="after")
    def _identified(self) -> MemberIn:
        if (self.source is None) != (self.external_id is None):
            raise PydanticCustomError(
                "identity", "source and external_id go together: give both or neither."
            )
        if self.external_id is None and self.email is None:
            raise PydanticCustomError(
                "identity", "Give source and external_id, or an email, to find the member by."
            )
        return self


class MemberUpsertOut(MemberOut):
    result: Literal["created", "updated", "unchanged"]


# --- Activities ---------------------------------------------------------------------------------


class MemberRef(Input):
    source: Source
    external_id: ExternalId


class ActivityIn(Input):
    kind: Text50NonEmpty = Field(description="The slug of an activity kind: message.")
    occurred_at: Instant
    source: Source = Field("api", description="The activity's source; with external_id its key.")
    external_id: Text200 = Field(
        "", description="Its id in the source: sent again, it is not added twice."
    )
    member: MemberRef | None = Field(None, description="The member by an identity ...")
    member_email: Email | None = Field(None, description="... or by email.")
    channel: Text200 = ""
    title: Text500 = ""
    url: Url = Field("", description="A link to it, http or https.")

    @model_validator(mode="after")
    def _has_member(self) -> ActivityIn:
        if self.member is None and self.member_email is None:
            raise PydanticCustomError(
                "member", "Give member (source, external_id) or member_email."
            )
        return self


class ActivityBatchIn(Input):
    activities: list[ActivityIn] = Field(min_length=1, max_length=MAX_BATCH)


class ActivityBatchOut(BaseModel):
    created: int = Field(description="Activities added.")
    unchanged: int = Field(description="Activities already stored (same source, external_id).")


# --- Segments -----------------------------------------------------------------------------------

Rule = dict[str, Any]


class SegmentOut(BaseModel):
    id: int
    name: str
    kind: Literal["smart", "manual"]
    rule: Rule | None = Field(description="Smart segments: the rule (segment references by id).")
    rule_text: str = Field(description="The rule in words; empty for a manual segment.")
    description: str
    color: str
    pinned: bool
    position: int
    member_count: int
    rule_version: int
    is_updating: bool = Field(description="A new rule waits for its first refresh.")
    refreshed_at: datetime | None
    refresh_error: str
    review_every_days: int | None
    reviewed_at: datetime | None
    review_due: bool
    edit_version: str = Field(description="Send back with an update to refuse lost updates.")
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    items: list[SegmentOut]
    next: str | None


ColorName = Literal["blue", "green", "amber", "rose", "violet", "teal", "slate"]


class SegmentIn(Input):
    name: Text100 = Field(description="Unique in the community, in any letter case.")
    kind: Literal["smart", "manual"]
    rule: Rule | None = Field(None, description="Smart segments: the rule (docs/rules.md).")
    description: Text2000 = ""
    color: ColorName = "blue"
    pinned: bool = False
    review_every_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class SegmentPatch(Input):
    """The fields to change; the others keep their values. A segment's kind never changes."""

    name: Text100 | None = None
    rule: Rule | None = None
    description: Text2000 | None = None
    color: ColorName | None = None
    pinned: bool | None = None
    review_every_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    edit_version: Text64 | None = Field(
        None, description="The edit_version read; someone else's save since then is a 409."
    )


class SegmentMemberOut(MemberOut):
    entered_at: datetime
    via: str = Field(description="rule, manual, import or api.")


class SegmentMemberPage(BaseModel):
    items: list[SegmentMemberOut]
    next: str | None


class SegmentMembersIn(Input):
    member_ids: list[Id] = Field(default_factory=list, max_length=MAX_ENTRIES)
    emails: list[Text320NonEmpty] = Field(
        default_factory=list, max_length=MAX_ENTRIES, description="Matched in any letter case."
    )


class SegmentAddOut(BaseModel):
    added: list[int]
    already: list[int] = Field(description="Members that were in the segment already.")
    unknown_member_ids: list[int]
    unknown_emails: list[str]


class SegmentRemoveOut(BaseModel):
    removed: list[int]


# --- The ledger ---------------------------------------------------------------------------------


class MembershipChangeOut(BaseModel):
    id: int = Field(description="The ledger row's id: the feed's order.")
    segment_id: int
    segment_name: str
    member_id: int
    change: Literal["entered", "left"]
    via: str = Field(description="Why: rule, manual (by hand), import or api.")
    rule_version: int | None = Field(description="The rule's version, for a rule's change.")
    by: str | None = Field(description="The username, for a change made by a person.")
    at: datetime


class MembershipChangePage(BaseModel):
    items: list[MembershipChangeOut]
    next: str = Field(description="Pass as `since` next time; the same when nothing is new.")


# --- Import jobs --------------------------------------------------------------------------------


class ReportLine(BaseModel):
    line: int
    kind: str = Field(description="invalid or skipped.")
    message: str


class DetailCount(BaseModel):
    label: str
    count: int


class ImportCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    skipped: int
    invalid: int


class ImportJobOut(BaseModel):
    id: int
    importer: str
    file_name: str
    file_size: int
    status: str = Field(
        description="queued, validating, ready, importing, done, failed, cancelled."
    )
    status_label: str
    confirmed: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    rows_total: int | None
    percent: int
    counts: ImportCounts
    rolled_back: bool
    details: list[DetailCount]
    report: list[ReportLine] = Field(description="The first problems, with their lines.")
    message: str = Field(description="Why the job failed.")
