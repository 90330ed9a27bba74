"""Fuzzing every view with hostile input: no request a client can send gets a 5xx.

Every URL pattern the resolver knows (tests/test_isolation.py walks the same list) is driven
with hostile query strings and form posts, drawn by Hypothesis from tests/security/strategies.py:
the parameter names the view reads (from its forms and filtersets, and the ones it reads by
hand), odd and random names, repeated keys, and values full of NUL and control characters,
digits `int()` refuses, integers beyond every column, impossible dates, forged paging cursors,
deep JSON, long and comma-heavy text, markup; sometimes with htmx headers, sometimes as a raw
body or query string. URLs are filled with the objects of a small realistic community (members
with scores and activities, smart segments with rules, a manual segment with members) and with
hostile ids the URL converter lets through. Each example runs in its own savepoint, rolled back.

An exception out of a view (the test client re-raises it) or a 5xx fails the test, naming the
request. FUZZ_EXAMPLES sets the examples per view and method (default 50) for a longer run:

    FUZZ_EXAMPLES=500 pytest tests/security/test_fuzz_views.py
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community_os import health
from engagement import importing as activity_importing
from engagement.forms import TrendRangeForm
from engagement.models import ActivityKind, HealthSnapshot
from engagement.scoring import score_community
from members import importing as member_importing
from members import table, team
from members.filters import MemberFilter
from members.forms import ImportForm
from members.imports import get_importer
from members.merging import FIELDS as MERGE_FIELDS
from members.models import Community, CommunityRole, ImportJob, Invitation, Role
from members.paging import encode_cursor
from notifications import mail as notification_mail
from notifications.models import USER_KINDS, EmailKind, Frequency
from segments import refresh, rules, services
from segments.builder import UNITS
from segments.forms import AddMembersForm, SegmentForm
from segments.models import Color, Kind
from signup.models import JoinPage
from tests.factories import ActivityFactory, IdentityFactory, MemberFactory, UserFactory
from tests.security.strategies import (
    HOSTILE,
    HUGE_IDS,
    Param,
    choice,
    comma_list,
    cursor,
    date,
    form,
    identifier,
    names,
    number,
    sometimes,
    text,
    value_or_hostile,
    weighted,
)
from webhooks import transport as webhook_transport
from webhooks.models import Delivery, Endpoint, Event
from webhooks.services import new_secret

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example rolls its own writes back
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Not fuzzed here: Django's own admin (staff only, across communities; alice is not staff).
SKIPPED = {"admin": "Django admin: staff only, its own forms"}

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


# --- The community the URLs are filled from ----------------------------------------------------


@dataclass(frozen=True)
class Town:
    """The ids and texts of a small community (acme) and of its neighbour (globex)."""

    slug: str
    members: tuple[int, ...]
    smart: tuple[int, ...]
    manual: tuple[int, ...]
    kinds: tuple[int, ...]
    kinds_form: tuple[tuple[str, str], ...]  # the kinds page's formset as a browser posts it
    others: tuple[int, ...]  # globex's member, segment and kind
    texts: tuple[str, ...]  # names, emails, companies, cities of acme's members
    cursors: tuple[str, ...]  # real paging cursors of several sort columns
    jobs: tuple[int, ...] = ()  # import jobs: one checked and waiting, one done
    webhooks: tuple[int, ...] = ()  # webhook endpoints, and deliveries of the first
    deliveries: tuple[int, ...] = ()
    team_roles: tuple[int, ...] = ()  # Settings > Team: roles of acme, and an invitation
    invitations: tuple[int, ...] = ()
    invitation_tokens: tuple[str, ...] = ()  # its emailed link's token
    unsubscribe_tokens: tuple[str, ...] = ()  # one-click unsubscribe tokens (alice's, an address's)

    @property
    def segments(self) -> tuple[int, ...]:
        return self.smart + self.manual

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # short in Hypothesis's reports
        printer.text(f"Town({self.slug!r}, members={self.members}, segments={self.segments})")


def _build_town(community: Community, other: Community) -> Town:
    now = timezone.now()
    members = [
        MemberFactory(
            community=community,
            attributes={"plan": plan, "seats": seats},
            last_seen_at=now - timedelta(days=days) if days is not None else None,
        )
        for plan, seats, days in [
            ("pro", 3, 1),
            ("free", 1, 40),
            ("pro", 12, None),
            ("team", 5, 200),
            ("free", 0, 3),
            ("team", 2, None),
            ("pro", 7, 10),
            ("free", 1, 800),
        ]
    ]
    # Two members share a name (an ambiguous entry); one has no email, one no name.
    members.append(MemberFactory(community=community, name="Sam Lee", email="sam1@example.org"))
    members.append(MemberFactory(community=community, name="Sam Lee", email=""))
    members.append(MemberFactory(community=community, name="", email="nameless@example.org"))
    for member, source in zip(members, ["slack", "github", "slack", "discourse"], strict=False):
        IdentityFactory(member=member, source=source)
    for member, count in zip(members, [30, 12, 5, 1, 0, 60], strict=False):
        for index in range(count):
            kind = ["message", "reply", "post", "answer_accepted"][index % 4]
            ActivityFactory(member=member, kind_slug=kind)
    score_community(community, as_of=now - timedelta(days=14))
    score_community(community, as_of=now - timedelta(days=7))
    score_community(community, as_of=now)
    assert HealthSnapshot.objects.for_community(community).count() >= 2

    JoinPage.objects.create(  # published: the fuzzer reaches past the 404 of an unpublished one
        community=community,
        enabled=True,
        city="optional",
        questions=[{"label": "What do you build?", "required": False}],
        consent_text="I agree.",
    )
    manual = services.segment_create(
        community=community, name="Advisory board", kind=Kind.MANUAL, review_every_days=30
    )
    services.segment_add_members(segment=manual, members=members[:4])
    company = members[0].company_name
    smart = services.segment_create(
        community=community,
        name="Engaged at our biggest customer",
        kind=Kind.SMART,
        pinned=True,
        rule={
            "any": [
                {"field": "company_name", "op": "is", "value": company},
                {"field": "engagement_score", "op": "gte", "value": 1},
                {"field": "attributes.plan", "op": "is", "value": "pro"},
            ]
        },
    )
    nested = services.segment_create(
        community=community,
        name="Recent board members",
        kind=Kind.SMART,
        rule={
            "all": [
                {"field": "segment", "op": "in", "value": manual.pk},
                {
                    "field": "joined_at",
                    "op": "within_last",
                    "value": {"amount": 36, "unit": "months"},
                },
                {"any": [{"field": "source", "op": "is", "value": "slack"}]},
            ]
        },
    )
    for segment in (smart, nested):
        refresh.refresh_segment(segment.pk)

    neighbour = MemberFactory(community=other)
    foreign = services.segment_create(community=other, name="Theirs", kind=Kind.MANUAL)
    foreign_kind = ActivityKind.objects.for_community(other).first()

    kinds = list(ActivityKind.objects.for_community(community).order_by("-initiated", "label"))
    form = [
        ("form-TOTAL_FORMS", str(len(kinds))),
        ("form-INITIAL_FORMS", str(len(kinds))),
        ("form-MIN_NUM_FORMS", "0"),
        ("form-MAX_NUM_FORMS", "1000"),
    ]
    for index, kind in enumerate(kinds):
        form += [
            (f"form-{index}-id", str(kind.pk)),
            (f"form-{index}-weight", str(kind.weight)),
            (f"form-{index}-daily_cap", str(kind.daily_cap)),
        ]
        if kind.initiated:
            form.append((f"form-{index}-initiated", "on"))

    texts = {
        text
        for member in members
        for text in (member.name, member.email, member.company_name, member.city, member.country)
        if text
    }
    first = members[0]
    real_cursors = [
        encode_cursor(first.name, first.pk),
        encode_cursor(first.company_name, first.pk),
        encode_cursor(first.joined_at, first.pk),
        encode_cursor(None, first.pk),
        encode_cursor(Decimal("1.25"), first.pk),
    ]
    waiting = ImportJob.objects.create(
        community=community, importer="members", file_name="crm.csv", status="ready"
    )
    waiting.file.save(
        "upload.csv", ContentFile(b"Full Name,E-mail,Tier\nAnn,ann@example.org,Gold\n")
    )
    done = ImportJob.objects.create(
        community=community,
        importer="activities",
        file_name="activities.csv",
        status="done",
        problems=[[2, "invalid", 'unknown kind "posted"']],
    )
    endpoint = Endpoint.objects.create(
        community=community,
        url=f"https://{FUZZ_HOOK_HOST}/in",
        events=[Event.MEMBER_ENTERED, Event.MEMBER_LEFT],
        secret=new_secret(),
    )
    endpoint.segments.set([smart])
    delivery = Delivery.objects.create(
        community=community,
        endpoint=endpoint,
        message_id="msg_fuzz",
        event=Event.MEMBER_ENTERED,
        body="{}",
        created_at=now,
        next_attempt_at=None,
        give_up_at=now,
        status=Delivery.Status.FAILED,
        attempts=11,
        last_error="Connection refused.",
    )
    CommunityRole.objects.create(
        community=community, user=UserFactory(username="teammate"), role=Role.VIEWER
    )
    invitation = Invitation.objects.create(
        community=community,
        email="invited@example.org",
        role=Role.MANAGER,
        nonce="fuzz",
        expires_at=now + timedelta(days=7),
    )
    alice = CommunityRole.objects.get(community=community, user__username="alice").user
    return Town(
        # alice's, amy's and the teammate's
        team_roles=tuple(
            CommunityRole.objects.filter(community=community).values_list("pk", flat=True)
        ),
        invitations=(invitation.pk,),
        invitation_tokens=(team.invitation_token(invitation),),
        unsubscribe_tokens=(
            notification_mail.unsubscribe_token(kind=EmailKind.DIGEST, user=alice),
            notification_mail.unsubscribe_token(kind=EmailKind.INVITATION, email="a@example.org"),
        ),
        webhooks=(endpoint.pk,),
        deliveries=(delivery.pk,),
        jobs=(waiting.pk, done.pk),
        slug=community.slug,
        members=tuple(member.pk for member in members),
        smart=(smart.pk, nested.pk),
        manual=(manual.pk,),
        kinds=tuple(kind.pk for kind in kinds),
        kinds_form=tuple(form),
        others=(neighbour.pk, foreign.pk, foreign_kind.pk),
        texts=tuple(sorted(texts)),
        cursors=tuple(real_cursors),
    )


FUZZ_HOOK_HOST = "hooks.example.org"


def _fake_dns(host: str, port: int) -> list[str]:
    """Webhook URLs are resolved when saved: no DNS from the fuzzing (one public name)."""
    if host == FUZZ_HOOK_HOST:
        return ["93.184.215.14"]
    raise OSError("Name or service not known")


@pytest.fixture
def town(community, other_community, alice, amy, monkeypatch) -> Town:
    monkeypatch.setattr(webhook_transport, "resolve", _fake_dns)
    # A worker and beat seen just now, so /healthz answers 200 and any 5xx there is a fault.
    health.record(health.WORKER)
    health.record(health.BEAT)
    return _build_town(community, other_community)


# --- Requests -----------------------------------------------------------------------------------

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Attack:
    """One hostile request, printed in full when it gets a 5xx or an exception."""

    method: str
    path: str
    role: str = "manager"  # manager (alice), admin (amy), anonymous, fresh-manager
    query: Pairs = ()
    body: Pairs = ()
    raw_query: str | None = None  # sent instead of `query`
    raw_body: bytes | None = None  # sent instead of `body`
    files: tuple[tuple[str, str, bytes], ...] = ()  # (field, file name, content)
    headers: Pairs = ()
    timezone: str = "UTC"  # the community's, for this request

    def __str__(self) -> str:
        query = self.raw_query if self.raw_query is not None else urlencode(self.query)
        lines = [f"{self.method} {self.path}{'?' + query if query else ''} as {self.role}"]
        lines.append(f"  query: {self.query!r}" if self.query else "")
        lines.append(
            f"  body: {self.raw_body or self.body!r}" if self.raw_body or self.body else ""
        )
        for name, filename, content in self.files:
            lines.append(f"  file {name}={filename!r}: {content[:300]!r} ({len(content)} bytes)")
        lines.append(f"  headers: {self.headers!r}" if self.headers else "")
        lines.append(f"  community timezone: {self.timezone}")
        return "\n".join(line for line in lines if line)


@dataclass
class Clients:
    """The test clients: alice (manager) and amy (admin) logged in once per test."""

    users: dict[str, object]
    logged_in: dict[str, Client] = field(default_factory=dict)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text("Clients(alice, amy)")

    def for_role(self, role: str) -> Client:
        if role == "anonymous":
            return Client()
        if role == "fresh-manager":  # logout ends the session: a client of its own
            client = Client()
            client.force_login(self.users["manager"])
            return client
        if role not in self.logged_in:
            client = Client()
            client.force_login(self.users[role])
            self.logged_in[role] = client
        return self.logged_in[role]


@pytest.fixture
def clients(alice, amy) -> Clients:
    return Clients(users={"manager": alice, "admin": amy})


def _header_environ(headers: Pairs) -> dict[str, str]:
    return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers}


BOUNDARY = "fuzz-7MA4YWxkTrZu0gW"


def _quoted(text: str) -> str:
    """A name in a multipart header, escaped as browsers do (the test client would not)."""
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart(fields: Pairs, files: tuple[tuple[str, str, bytes], ...]) -> bytes:
    """A multipart body by hand, so that any file name reaches the server's parser."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    ]
    parts += [
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(filename)}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        + content
        + b"\r\n"
        for name, filename, content in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def send(client: Client, attack: Attack) -> HttpResponseBase:
    """Send the request and read a streamed body to its end; a view's exception is re-raised
    with the request attached."""
    query = attack.raw_query if attack.raw_query is not None else urlencode(attack.query)
    extra = {"QUERY_STRING": query, **_header_environ(attack.headers)}
    try:
        if attack.method == "GET":
            response = client.get(attack.path, **extra)
        elif attack.files:
            body = _multipart(attack.body, attack.files)
            content_type = f"multipart/form-data; boundary={BOUNDARY}"
            response = client.post(attack.path, body, content_type=content_type, **extra)
        else:
            body = attack.raw_body if attack.raw_body is not None else urlencode(attack.body)
            content_type = "application/x-www-form-urlencoded"
            send_body = getattr(client, attack.method.lower())  # POST, or the API's PATCH, DELETE
            response = send_body(attack.path, body, content_type=content_type, **extra)
        if response.streaming:  # an export: its rows are produced while it is sent
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
    except Exception as error:
        error.add_note(f"The request:\n{attack}")
        raise
    return response


# --- What each view reads -----------------------------------------------------------------------


def _form_names(form_class: Callable) -> list[str]:
    """The data keys a form (or a FilterSet's form) reads, multi-widget suffixes included."""
    instance = form_class()
    instance = getattr(instance, "form", instance)
    found = []
    for name, form_field in instance.fields.items():
        suffixes = getattr(form_field.widget, "suffixes", None)
        found += [f"{name}_{suffix}" if suffix else name for suffix in suffixes or [""]]
    return found


FILTERSETS = [MemberFilter, *(e.filterset_class for e in table.extensions() if e.filterset_class)]
MEMBER_LIST = sorted(
    {"sort", "after", "before", "count"}
    | {name for filterset in FILTERSETS for name in _form_names(filterset)}
)
SEGMENT_FORM = _form_names(SegmentForm)
EVERY_NAME = sorted(
    {
        *MEMBER_LIST,
        *SEGMENT_FORM,
        *_form_names(TrendRangeForm),
        *_form_names(partial(ImportForm, importer=get_importer("members"))),
        *_form_names(AddMembersForm),
        *("action", "segment", "group-1", "field-1.1", "op-1.1", "value-1.1", "value2-1.1"),
        *("amount-1.1", "unit-1.1", "shape-1.1", "importer", "then", "member", "direction"),
        *("pinned", "page", "attributes", "next", "username", "password", "form-TOTAL_FORMS"),
        *("role", "frequency", "password_again", "new_password1", "new_password2"),
        *(*USER_KINDS, "List-Unsubscribe"),
    }
)

COLUMN_KEYS = [column.key for column in table.columns()]
EVERY_OPERATOR = sorted({op for ops in rules.OPERATORS.values() for op in ops})
SOURCES = ["slack", "github", "discourse"]
VALID_DATES = ["2024-01-01", "2025-06-30", "2020-02-29"]
SCORES = ["0", "0.5", "1", "2.25", "3"]
HTMX_TARGETS = [
    "members-table",
    "segment-form",
    "segment-dialog",
    "segments-table",
    "segment-summary",
    "health-trend",
    "kinds-form",
    "delete-dialog",
    "add-members",
    "row-1-1",
    "row-1-2-1",
    "row-1",
]


def ids(town: Town, pool: Sequence[int], weight: int = 5) -> st.SearchStrategy[str]:
    """An id in a URL: one of `pool` (`weight` times as often), another community's, or one no
    row has (the URL's converter lets only ASCII digits through)."""
    real = [str(pk) for pk in pool]
    foreign = [str(pk) for pk in town.others]
    top = max([*town.members, *town.segments, *town.kinds, *town.others])
    missing = ["0", "00", f"0{real[0]}", str(top + 10**6), *HUGE_IDS]
    return weighted((weight, st.sampled_from(real)), (1, st.sampled_from(foreign + missing)))


def identifiers(town: Town, pool: Sequence[int]) -> Param:
    return identifier([str(pk) for pk in pool], foreign=[str(pk) for pk in town.others])


def params(town: Town) -> dict[str, Param]:
    """Every parameter a view reads by hand or through a form, by name."""
    texts = town.texts
    found = {
        "sort": choice([*COLUMN_KEYS, *(f"-{key}" for key in COLUMN_KEYS)]),
        "after": cursor(town.cursors),
        "before": cursor(town.cursors),
        "count": choice(["all"]),
        "q": text(texts, ["Sam Lee", "sam", "a b c"]),
        "segment": identifiers(town, town.segments),
        "weeks": number(["12", "26", "52"]),
        "importer": choice(["members", "activities"]),
        # An import job's page: its buttons and its mapping form.
        "date_format": choice(["iso", "day_first", "month_first"]),
        "blank": choice(["keep", "clear"]),
        "encoding": choice(["utf-8", "utf-16", "windows-1252"]),
        "skip_invalid": choice(["on"]),
        **{
            f"map_{n}": choice(["name", "email", "ignore", "attribute", "joined_at"])
            for n in range(3)
        },
        "then": choice(["segments"]),
        "direction": choice(["up", "down"]),
        "pinned": choice(["1", "0", "on"]),
        "member": identifiers(town, town.members),
        # The profile's segment buttons, an import job's page, a webhook endpoint's buttons.
        "action": choice(
            ["remove", "add", "check", "import", "cancel", "save", "rotate", "delete", "enable"]
        ),
        # Settings > Webhooks: an endpoint's form and buttons.
        "url": text([f"https://{FUZZ_HOOK_HOST}/in", "http://10.0.0.1/", "http://[::1]:80/"]),
        "description": text(["CRM sync"]),
        "events": choice(Event.values),
        "segments": identifiers(town, town.segments),
        "entries": text(texts, ["\n".join(texts), ", ".join(texts), "Sam Lee"], comma_list()),
        "next": text([f"/c/{town.slug}/", "/"]),
        "username": text(["alice", "amy", "nobody"]),
        "password": text(["correct horse battery staple", "wrong"]),
        "attributes": number(["1", "2", "50"]),  # the profile's page of attributes
        "confirm": choice(["on"]),  # the merge screen's "cannot be undone" checkbox
        # The join page, and its settings.
        "name": text(["Ada Lovelace", "Sam Lee"]),
        "title": text(["Join Acme"]),
        "email": text(["new@example.org", "sam1@example.org", "SAM1@example.org"]),
        "website": text([""]),  # the honeypot
        "consent": choice(["on"]),
        "question_1": text(["What do you build?"]),
        "question_1_required": choice(["on"]),
        "enabled": choice(["on"]),
        **{
            name: choice(["off", "optional", "required"])
            for name in ("company_name", "job_title", "city", "country", "location")
        },
        "invite_url": text(["https://example.org/invite", "javascript:alert(1)"]),
        # Settings > Team, an invitation's page, watching, email preferences, password reset.
        "role": choice(Role.values),
        "password_again": text(["correct horse battery staple", "other"]),
        "new_password1": text(["an entirely new passphrase 7", "1234"]),
        "new_password2": text(["an entirely new passphrase 7"]),
        "frequency": choice(Frequency.values),
        **{kind: choice(["on"]) for kind in USER_KINDS},
        "List-Unsubscribe": choice(["One-Click"]),
        **{f"field_{name}": choice(["kept", "merged"]) for name in MERGE_FIELDS},
    }
    for name in MEMBER_LIST:
        if name.endswith(("_after", "_before")):
            found[name] = date(VALID_DATES)
        elif name.endswith(("_min", "_max")):
            found[name] = number(SCORES)
        elif name not in found:
            found[name] = text(texts)
    return found


def requests_of(town: Town, *names: str, required: Sequence[str] = ()) -> st.SearchStrategy:
    """The named parameters, one of them hostile (see `form`)."""
    known = params(town)
    return form({name: known[name] for name in names}, required)


@st.composite
def noise(draw, town: Town) -> Pairs:
    """Now and then more: any parameter with any hostile value, or a random name."""
    if not draw(sometimes(4)):
        return ()
    pair = st.tuples(names(EVERY_NAME), HOSTILE)
    return tuple(draw(st.lists(pair, min_size=1, max_size=4)))


def htmx_headers(town: Town) -> st.SearchStrategy[Pairs]:
    page = f"http://testserver/c/{town.slug}/"
    target = st.tuples(st.just("HX-Target"), value_or_hostile(HTMX_TARGETS)).map(lambda h: (h,))
    current = st.tuples(
        st.just("HX-Current-URL"),
        value_or_hostile([page, f"{page}segments/{town.smart[0]}/", "http://[", "http://x:99999/"]),
    ).map(lambda h: (h,))
    with_htmx = st.builds(
        lambda *parts: tuple(header for part in parts for header in part),
        st.just((("HX-Request", "true"),)),
        st.one_of(st.just(()), target),
        st.one_of(st.just(()), current),
    )
    return st.one_of(st.just(()), with_htmx)


# --- The segment dialog (segments/builder.py) ---------------------------------------------------

RELATIVE_OPS = ("within_last", "more_than_ago")
FIELDS_BY_KIND = {
    kind: [name for name, spec in rules.FIELDS.items() if spec.kind == kind]
    for kind in ("text", "number", "date", "identity", "segment")
}
FIELDS_BY_KIND["attributes"] = ["attributes.plan", "attributes.seats", "attributes.nope"]
ODD_FIELDS = ["attributes.", "attributes.a-b", "attributes.__class__", "attributes.\x00"]
ODD_FIELDS += ["nope", "Name", "segment ", "", *EVERY_OPERATOR]
ODD_PATHS = ["1", "1.0", "1.01", "1.9999", "1.10000", "2.1", "1.", "1..1", "01.1", "1.\u00b2"]
ODD_PATHS += ["1.\u0661", "1.1.1.1.1.1.1.1.1", "1.1.1.1.1.1.1.1.1.1", ""]
# The parts of a row the focus can fall on; "huge" is a whole rule at the size limits.
ROW_PARTS = ("field", "op", "value", "value2", "amount", "unit", "group", "path", "huge")
DIALOG_PARTS = ("kind", "name", "description", "color", "pinned", "review_every_days")
DIALOG_PARTS += ("entries", "search", "action", "shape")


def _row_values(town: Town, kind: str) -> Param:
    return {
        "text": text(town.texts, ["pro"]),
        "attributes": text(["pro", "free", "3"]),
        "number": number(["0", "1", "1.5", "2.25", "12"]),
        "date": date(VALID_DATES),
        "identity": choice(SOURCES),
        "segment": identifiers(town, town.segments),
    }[kind]


@st.composite
def row(draw, town: Town, path: str, focus: str | None) -> Pairs:
    """One row of the rule builder, complete and valid but for the focus: its field, operator,
    value, second value, amount or unit."""
    if focus in ("amount", "unit"):
        kind, op = "date", draw(st.sampled_from(RELATIVE_OPS))
    elif focus == "value2":
        kind, op = draw(st.sampled_from(["number", "date"])), "between"
    else:
        kind = draw(st.sampled_from(sorted(FIELDS_BY_KIND)))
        op = None
    field_name = draw(st.sampled_from(FIELDS_BY_KIND[kind]))
    spec = rules.get_field(field_name)
    assert spec is not None
    op = op or draw(st.sampled_from(spec.operators))
    values = _row_values(town, kind)
    shape: dict[str, Param] = {}
    if op in RELATIVE_OPS:
        shape = {"amount": number(["1", "7", "30"]), "unit": choice(UNITS)}
    elif op == "is_any_of":
        shape = {"value": text(["pro, free", ", ".join(town.texts)], comma_list())}
    elif op == "between":
        shape = {"value": values, "value2": values}
    elif op not in ("is_empty", "is_not_empty"):
        shape = {"value": values}
    if focus == "field":
        field_name = draw(weighted((3, st.sampled_from(ODD_FIELDS)), (1, HOSTILE)))
    found = [(f"field-{path}", field_name)]
    if focus == "op":
        op = draw(weighted((2, st.sampled_from(EVERY_OPERATOR)), (1, choice([op]).hostile())))
    found.append((f"op-{path}", op))
    for part, param in shape.items():
        found.append((f"{part}-{path}", draw(param.hostile() if part == focus else param.valid)))
    return tuple(found)


def _many(count: int, row: Callable[[str], Pairs]) -> Pairs:
    return tuple(pair for index in range(1, count + 1) for pair in row(f"1.{index}"))


def huge_rules(town: Town) -> st.SearchStrategy[Pairs]:
    """Rules at the size limits: hundreds of rows (under Django's 1,000 fields a request), lists
    of 500 values each, groups nested one level beyond the limit."""
    long_list = ",".join(f"company {index}" for index in range(500))
    smart = str(town.smart[0])
    rows: list[Callable[[str], Pairs]] = [
        lambda p: (
            (f"field-{p}", "company_name"),
            (f"op-{p}", "is_any_of"),
            (f"value-{p}", long_list),
        ),
        lambda p: ((f"field-{p}", "name"), (f"op-{p}", "contains"), (f"value-{p}", "a")),
        lambda p: ((f"field-{p}", "segment"), (f"op-{p}", "in"), (f"value-{p}", smart)),
        lambda p: ((f"field-{p}", "joined_at"), (f"op-{p}", "within_last"), (f"amount-{p}", "9")),
        lambda p: ((f"field-{p}", "attributes.plan"), (f"op-{p}", "is"), (f"value-{p}", "pro")),
    ]
    # SQLite cannot be interrupted while it plans a statement: without the rule bounds, a
    # hundred lists of 500 held a SQLite run for over ten minutes (fifty, about a minute).
    counts = [20, 50] if connection.vendor == "sqlite" else [20, 50, 101, 150, 320]
    wide = st.builds(
        lambda kind, count, row: (("group-1", kind), *_many(count, row)),
        st.sampled_from(["all", "any"]),
        st.sampled_from(counts),
        st.sampled_from(rows),
    )
    groups = [".".join(["1"] * parts) for parts in range(1, 10)]  # 9 levels: one too many
    nested = [(f"field-{group}.2", "name") for group in groups[:-1]]
    nested += [(f"value-{group}.2", "a") for group in groups[:-1]]
    deep = st.just((*((f"group-{group}", "any") for group in groups), *nested))
    return st.one_of(wide, deep)


@st.composite
def rule(draw, town: Town, focus: str | None) -> Pairs:
    """The builder's fields for a rule of one to three rows (in a nested group at times)."""
    if focus == "huge":
        return draw(huge_rules(town))
    found: list[tuple[str, str]] = [("group-1", draw(st.sampled_from(["all", "any"])))]
    paths = ["1.1", "1.2", "1.3"][: draw(st.integers(1, 3))]
    if draw(sometimes(4)):
        found.append(("group-1.2", "any"))
        paths = ["1.1", "1.2.1", "1.2.2"]
    aimed = draw(st.sampled_from(paths))
    for path in paths:
        part = focus if path == aimed else None
        if part == "path":
            path = draw(st.sampled_from(ODD_PATHS))
        found += draw(row(town, path, part))
    if focus == "group":
        where = draw(
            weighted((2, st.sampled_from(["1", "1.2", "1.1"])), (1, st.sampled_from(ODD_PATHS)))
        )
        found.append((f"group-{where}", draw(choice(["all", "any"]).hostile())))
    return tuple(found)


@st.composite
def dialog(draw, town: Town, segment: bool = False) -> Pairs:
    """What the "+ New Segment" dialog posts: valid but for one part (the focus)."""
    parts = [*DIALOG_PARTS, *ROW_PARTS, *(["segment"] if segment else []), None]
    focus = draw(st.sampled_from(parts))
    manual = focus in ("entries", "search", "review_every_days") or (
        focus not in ROW_PARTS and draw(sometimes(3))
    )
    member = str(draw(st.sampled_from(town.members)))
    fields = {
        "kind": choice(["manual" if manual else "smart"]),
        "name": text(["Fuzzed", "Key accounts", "Advisory board", "advisory BOARD"]),
        "description": text(["", "Who to call first"]),
        "color": choice(Color.values),
        "pinned": choice(["on", ""]),
        "review_every_days": number(["", "30"]),
        "entries": text(town.texts, ["\n".join(town.texts), "Sam Lee"], comma_list()),
        "search": text(["sam", "@example.org", "Sam Lee"]),
        "action": choice(
            ["save", "refresh", "add-condition:1", "add-group:1", "remove:1.1", f"pick:{member}"]
        ),
    }
    if segment:
        fields["segment"] = identifiers(town, town.segments)
    found = [
        (name, draw(param.hostile() if name == focus else param.valid))
        for name, param in fields.items()
        if name == focus or name in ("kind", "name", "action") or draw(st.booleans())
    ]
    if focus == "action":  # the buttons' actions, aimed at odd rows
        path = draw(st.sampled_from(["1", "1.1", "1.2", *ODD_PATHS]))
        verbs = ["add-condition", "add-group", "remove"]
        odd = weighted(
            (1, st.sampled_from([f"{verb}:{path}" for verb in verbs])),
            (1, identifiers(town, town.members).hostile().map(lambda pk: f"pick:{pk}")),
        )
        found.append(("action", draw(odd)))
    if focus == "shape":  # a row's controls as the page last showed them (htmx refresh)
        found.append(("shape-1.1", draw(choice(["text:text", "date:relative"]).hostile())))
    if not manual:
        found += draw(rule(town, focus if focus in ROW_PARTS else None))
    return tuple(found)


# --- The kinds formset and the import uploads ---------------------------------------------------


@st.composite
def kinds_formset(draw, town: Town) -> Pairs:
    """The kinds page's own form data with one field hostile, or dropped, or added."""
    base = list(town.kinds_form)
    keys = [key for key, _ in base]
    extra = [
        f"form-{index}-{name}"
        for index in ("11", "999", "1000", "-1", "\u00b2")
        for name in ("id", "weight", "DELETE")
    ]
    key = draw(st.sampled_from(keys + extra))
    kind_ids = identifiers(town, town.kinds)
    param = kind_ids if key.endswith("-id") else number(["1", "0.5", "20"])
    how = draw(st.sampled_from(["replace", "drop", "repeat"]))
    found = [(k, v) for k, v in base if not (k == key and how != "repeat")]
    if how != "drop":
        found.append((key, draw(param.hostile())))
    return tuple(found)


def _csv(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@st.composite
def upload(draw, town: Town) -> tuple[str, tuple[str, str, bytes], Pairs]:
    """(importer, the uploaded file, other form fields) for the Imports page."""
    focus = draw(st.sampled_from(["importer", "header", "cell", "encoding", "filename", None]))
    importer_param = choice(["members", "activities"])
    importer = draw(importer_param.hostile() if focus == "importer" else importer_param.valid)
    module = activity_importing if importer == "activities" else member_importing
    columns = list(module.COLUMNS)
    header = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=6, unique=True))
    if focus == "header":
        header.insert(draw(st.integers(0, len(header))), draw(text(["x"]).sharp))
    cells = {
        "member_email": text(["sam1@example.org", "nameless@example.org"]),
        "email": text(["new@example.org", "sam1@example.org"]),
        "kind": choice(["message", "post", "reply"]),
        "occurred_at": date(["2025-01-02", "2025-01-02T10:00:00Z"]),
        "joined_at": date(["2024-05-01"]),
        "last_seen_at": date(["2025-05-01T08:00:00+02:00"]),
        "source": choice(SOURCES),
    }
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        row = [draw(cells.get(column, text(["x", "Ann"])).valid) for column in header]
        rows.append(row)
    if focus == "cell":
        index = draw(st.integers(0, len(header) - 1))
        rows[0][index] = draw(cells.get(header[index], text(["x"])).hostile())
    content = _csv([header, *rows]).encode()
    if focus == "encoding":
        encoding = draw(
            st.sampled_from(["utf-16", "utf-16-le", "latin-1", "utf-8-sig", "raw", "nul"])
        )
        if encoding == "raw":
            content = draw(st.binary(max_size=300))
        elif encoding == "nul":
            content = content.replace(b",", b",\x00", 1)
        else:
            content = _csv([header, *rows]).encode(encoding, errors="replace")
    filename = "upload.csv"
    if focus == "filename":
        filename = draw(text(["members.csv"]).hostile())
    fields: Pairs = (("skip_invalid", "on"),) if draw(st.booleans()) else ()
    return importer, ("file", filename, content), fields


# --- Every view ---------------------------------------------------------------------------------

Body = Callable[[Town], st.SearchStrategy[Pairs]]


@dataclass(frozen=True)
class Spec:
    """How to attack one URL pattern: its methods, what fills its URL, what it reads."""

    methods: tuple[str, ...] = ("GET",)
    query: Body = lambda town: st.just(())  # its query string (for GET and POST)
    body: Body = lambda town: st.just(())  # its form data
    pool: Callable[[Town], Sequence[int]] = lambda town: town.segments  # ids for `pk`
    role: str = "manager"


def reads(*names: str, required: Sequence[str] = ()) -> Body:
    return lambda town: requests_of(town, *names, required=required)


MEMBERS = lambda town: town.members  # noqa: E731
JOBS = lambda town: town.jobs  # noqa: E731
JOB_FORM = ("action", "date_format", "blank", "encoding", "skip_invalid", "map_0", "map_1", "map_2")
MANUAL = lambda town: town.manual + town.smart  # noqa: E731

VIEWS: dict[str, Spec] = {
    "home": Spec(),
    "healthz": Spec(),
    "status": Spec(),
    "login": Spec(
        methods=("GET", "POST"),
        query=reads("next"),
        body=reads("username", "password", "next", required=["username", "password"]),
        role="anonymous",
    ),
    "logout": Spec(
        methods=("POST",), query=reads("next"), body=reads("next"), role="fresh-manager"
    ),
    "members:list": Spec(query=reads(*MEMBER_LIST)),
    "members:detail": Spec(query=reads("attributes"), pool=MEMBERS),
    "members:imports": Spec(methods=("GET", "POST"), query=reads("importer")),
    "members:import_job": Spec(methods=("GET", "POST"), body=reads(*JOB_FORM), pool=JOBS),
    "members:import_job_report": Spec(pool=JOBS),
    "members:duplicates": Spec(query=reads("after")),
    "members:merge": Spec(
        methods=("GET", "POST"),
        body=reads("confirm", *(f"field_{name}" for name in MERGE_FIELDS)),
        pool=MEMBERS,
    ),
    "engagement:dashboard": Spec(query=reads("weeks")),
    "engagement:kinds": Spec(methods=("GET", "POST"), body=kinds_formset, role="admin"),
    "segments:list": Spec(),
    "segments:new": Spec(methods=("GET", "POST"), body=dialog),
    "segments:preview": Spec(methods=("POST",), body=lambda town: dialog(town, segment=True)),
    "segments:sidebar": Spec(),
    "segments:detail": Spec(),
    "segments:edit": Spec(methods=("GET", "POST"), body=dialog),
    "segments:delete": Spec(methods=("GET", "POST"), query=reads("then"), body=reads("then")),
    "segments:pin": Spec(methods=("POST",), body=reads("pinned")),
    "segments:move": Spec(methods=("POST",), body=reads("direction")),
    "segments:reviewed": Spec(methods=("POST",), pool=MANUAL),
    "segments:export": Spec(),
    "segments:add": Spec(methods=("POST",), body=reads("entries"), pool=MANUAL),
    "segments:remove": Spec(methods=("POST",), body=lambda town: remove_members(town), pool=MANUAL),
    "segments:member": Spec(
        methods=("GET", "POST"), body=reads("segment", "action", required=["segment"]), pool=MEMBERS
    ),
    "signup:join": Spec(
        methods=("GET", "POST"),
        body=reads("name", "email", "city", "website", "consent", required=["email"]),
        role="anonymous",
    ),
    "signup:sent": Spec(role="anonymous"),
    "members:team": Spec(
        methods=("GET", "POST"), body=reads("email", "role", required=["email"]), role="admin"
    ),
    "members:team_role": Spec(
        methods=("POST",), body=reads("role"), pool=lambda town: town.team_roles, role="admin"
    ),
    "members:team_remove": Spec(methods=("POST",), pool=lambda town: town.team_roles, role="admin"),
    "members:team_revoke": Spec(
        methods=("POST",), pool=lambda town: town.invitations, role="admin"
    ),
    "invitation_accept": Spec(
        methods=("GET", "POST"),
        body=reads("username", "password", "password_again"),
        pool=lambda town: town.invitation_tokens,
        role="anonymous",
    ),
    "notifications:watch": Spec(methods=("POST",), body=reads("action", "frequency", "next")),
    "notifications:preferences": Spec(methods=("GET", "POST"), body=reads(*USER_KINDS)),
    "notifications:unsubscribe": Spec(
        methods=("GET", "POST"),
        body=reads("List-Unsubscribe"),
        pool=lambda town: town.unsubscribe_tokens,
        role="anonymous",
    ),
    "notifications:password_reset": Spec(
        methods=("GET", "POST"), body=reads("email", required=["email"]), role="anonymous"
    ),
    "notifications:password_reset_done": Spec(role="anonymous"),
    "notifications:password_reset_confirm": Spec(
        methods=("GET", "POST"), body=reads("new_password1", "new_password2"), role="anonymous"
    ),
    "notifications:password_reset_complete": Spec(role="anonymous"),
    "signup:confirm": Spec(methods=("GET", "POST"), role="anonymous"),
    "signup:settings": Spec(
        methods=("GET", "POST"),
        body=reads(
            "enabled", "title", "city", "question_1", "question_1_required", "invite_url", "action"
        ),
        role="admin",
    ),
    # The REST API: these requests carry no token and no X-Community, so every one is a 401
    # problem document; tests/api/test_schemathesis.py drives the API with tokens.
    "webhooks:settings": Spec(
        methods=("GET", "POST"),
        body=reads("url", "description", "events", "segments", required=["url", "events"]),
        role="admin",
    ),
    "webhooks:endpoint": Spec(
        methods=("GET", "POST"),
        body=reads("action", "url", "events", "segments", "enabled", "confirm"),
        pool=lambda town: town.webhooks,
        role="admin",
    ),
    "webhooks:resend": Spec(methods=("POST",), pool=lambda town: town.webhooks, role="admin"),
    "api:tokens": Spec(methods=("GET", "POST"), body=reads("name", "action"), role="admin"),
    "api:not_found": Spec(methods=("GET", "POST")),
    "api-v1:openapi-json": Spec(),
    "api-v1:openapi-view": Spec(),
    "api-v1:api-root": Spec(),
    "api-v1:list_members": Spec(query=reads(*MEMBER_LIST)),
    "api-v1:get_member_by_id": Spec(pool=MEMBERS),
    "api-v1:upsert_member": Spec(methods=("POST",)),
    "api-v1:add_activities": Spec(methods=("POST",)),
    "api-v1:list_segments": Spec(),
    "api-v1:create_segment": Spec(methods=("POST",)),
    "api-v1:get_segment_by_id": Spec(),
    "api-v1:update_segment": Spec(methods=("PATCH",)),
    "api-v1:delete_segment": Spec(methods=("DELETE",)),
    "api-v1:list_segment_members": Spec(),
    "api-v1:add_segment_members": Spec(methods=("POST",), pool=MANUAL),
    "api-v1:remove_segment_members": Spec(methods=("DELETE",), pool=MANUAL),
    "api-v1:list_membership_changes": Spec(query=reads("segment")),
    "api-v1:get_import_job": Spec(pool=JOBS),
    "api-v1:list_endpoints": Spec(),
    "api-v1:create_endpoint": Spec(methods=("POST",)),
    "api-v1:get_endpoint": Spec(pool=lambda town: town.webhooks),
    "api-v1:update_endpoint": Spec(methods=("PATCH",), pool=lambda town: town.webhooks),
    "api-v1:delete_endpoint": Spec(methods=("DELETE",), pool=lambda town: town.webhooks),
}
# A URL pattern added without a spec is still fuzzed (GET and POST, any parameter), and
# test_every_url_pattern_has_a_spec asks for the names it reads.
DEFAULT = Spec(methods=("GET", "POST"))


@st.composite
def remove_members(draw, town: Town) -> Pairs:
    """The ticked members of a manual segment: several `member` values, one hostile."""
    member = params(town)["member"]
    found = [("member", draw(member.valid)) for _ in range(draw(st.integers(0, 3)))]
    found.insert(draw(st.integers(0, len(found))), ("member", draw(member.hostile())))
    return tuple(found)


def _walk(patterns, namespace=None, kwargs: frozenset[str] = frozenset()):
    """(name, the URL's keyword arguments) for every pattern, "admin" for the whole admin."""
    for pattern in patterns:
        found = kwargs | set(pattern.pattern.converters)
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                yield "admin", found
                continue
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace, found)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}:{pattern.name}" if namespace else str(pattern.name)), found


URL_KWARGS = dict(_walk(get_resolver().url_patterns))
URL_NAMES = sorted(URL_KWARGS)
TARGETS = [
    (name, method)
    for name in URL_NAMES
    if name not in SKIPPED
    for method in VIEWS.get(name, DEFAULT).methods
]


def _path(name: str, town: Town, draw) -> str:
    """The URL with the community's slug and an object's (or a hostile) id."""
    kwargs: dict[str, str] = {}
    spec = VIEWS.get(name, DEFAULT)
    for kwarg in sorted(URL_KWARGS[name]):
        if kwarg == "slug":
            odd = st.sampled_from(["globex", "a" * 300, "-_-"])
            kwargs[kwarg] = draw(weighted((19, st.just(town.slug)), (1, odd)))
        elif kwarg == "member_pk":
            kwargs[kwarg] = draw(ids(town, town.members))
        elif kwarg == "delivery_pk":
            kwargs[kwarg] = draw(ids(town, town.deliveries))
        else:
            kwargs[kwarg] = draw(ids(town, spec.pool(town)))
    return reverse(name, kwargs=kwargs)


@st.composite
def attacks(draw, name: str, method: str, town: Town) -> Attack:
    spec = VIEWS.get(name, DEFAULT)
    path = _path(name, town, draw)
    query = draw(spec.query(town)) + draw(noise(town))
    raw_query = None
    if draw(sometimes(12)):  # what no form sends: bad escapes, invalid UTF-8
        raw_query = draw(st.text(alphabet="%&=;+ab01fFeE\x00é", max_size=30))
    body: Pairs = ()
    raw_body = None
    files: tuple[tuple[str, str, bytes], ...] = ()
    if method != "GET":
        if name == "members:imports":
            importer, file, body = draw(upload(town))
            query += (("importer", importer),)
            files = (file,)
        else:
            body = draw(spec.body(town)) + draw(noise(town))
            if draw(sometimes(12)):
                raw_body = draw(st.binary(max_size=40)) + b"&%ff%fe=%00&a=%zz"
    return Attack(
        method=method,
        path=path,
        role=spec.role,
        query=query,
        body=body,
        raw_query=raw_query,
        raw_body=raw_body,
        files=files,
        headers=draw(htmx_headers(town)),
        timezone=draw(st.sampled_from(ZONES)),
    )


def test_every_url_pattern_has_a_spec():
    """A new view gets its parameter names listed here (it is fuzzed generically meanwhile)."""
    missing = set(URL_NAMES) - set(VIEWS) - set(SKIPPED)
    assert not missing, f"URL patterns without a fuzz spec: {sorted(missing)}"
    stale = (set(VIEWS) | set(SKIPPED)) - set(URL_NAMES)
    assert not stale, f"fuzz specs for URL patterns that no longer exist: {sorted(stale)}"


def test_the_parameter_names_include_what_the_forms_read():
    assert {"joined_after", "last_seen_before", "engagement_min", "segment", "q"} <= set(
        MEMBER_LIST
    )
    assert {"kind", "name", "review_every_days", "entries", "search"} <= set(SEGMENT_FORM)


@contextmanager
def time_limit(seconds: float = 10) -> Iterator[None]:
    """A net under the fuzzing itself: a request that holds the database longer fails the test,
    with the request shown, instead of hanging CI. PostgreSQL stops the statement (a setting
    local to the example's savepoint); on SQLite a progress handler interrupts it once it runs
    (nothing stops SQLite planning a statement: see `huge_rules`)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))]
            )
        yield
        return
    connection.ensure_connection()
    deadline = time.monotonic() + seconds
    connection.connection.set_progress_handler(lambda: time.monotonic() > deadline, 1_000)
    try:
        yield
    finally:
        connection.connection.set_progress_handler(None, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), TARGETS, ids=[f"{n}-{m}" for n, m in TARGETS])
@FUZZ
@given(data=st.data())
def test_hostile_requests_never_get_a_server_error(town, clients, name, method, data):
    attack = data.draw(attacks(name, method, town), label="request")
    client = clients.for_role(attack.role)
    with transaction.atomic(), time_limit():
        Community.objects.filter(slug=town.slug).update(timezone=attack.timezone)
        response = send(client, attack)
        transaction.set_rollback(True)
    assert response.status_code < 500, f"{response.status_code} for\n{attack}"


@pytest.mark.django_db
def test_the_town_is_what_the_fuzzing_needs(town, clients):
    """The objects behind the URLs exist and the pages they fill answer (so the fuzzing reaches
    the views' code, not only their 404s)."""
    client = clients.for_role("manager")
    slug = town.slug
    assert client.get(reverse("members:list", args=[slug])).status_code == 200
    for pk in town.segments:
        assert client.get(reverse("segments:detail", args=[slug, pk])).status_code == 200
    assert client.get(reverse("members:detail", args=[slug, town.members[0]])).status_code == 200
    page = client.get(reverse("engagement:dashboard", args=[slug])).content.decode()
    assert "Super users" in page
    admin = clients.for_role("admin")
    response = admin.post(reverse("engagement:kinds", args=[slug]), dict(town.kinds_form))
    assert response.status_code == 302  # the unchanged formset is valid: "Nothing changed."
