"""Hostile request data for the view fuzz suite (tests/security/test_fuzz_views.py).

Values a client can put in a query string, a form or an upload that a form field or a
hand-written parse may not expect: control characters and NUL, digits that `str.isdigit()`
accepts but `int()` does not (or the other way round), integers beyond every column's range,
numbers Python parses and databases do not, impossible dates, forged paging cursors, deep
JSON, long and comma-heavy text, markup. Everything here is pure: no database, no Django.

A `Param` pairs what a parameter expects with the hostile values aimed at its kind; `form`
draws a request valid but for one parameter (the focus), so that the hostile value gets past
the checks before it to the code that reads it. (Hostile values everywhere at once mostly
meet the first form error.)
"""

# The look-alike digits and letters are the point of this module.
# ruff: noqa: RUF001

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


def sometimes(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in `one_in` draws (and False when shrunk)."""
    return st.sampled_from([False] * (one_in - 1) + [True])


def weighted(*options: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """`st.one_of` with weights: one_of picks its branches about equally, and the same strategy
    given twice counts once."""
    table = [index for index, (weight, _) in enumerate(options) for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda index: options[index][1])


# --- Values -------------------------------------------------------------------------------------

CONTROL = [
    "\x00",
    "a\x00b",
    "\x01",
    "\x08",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u200b",
    "\u202eevil",
    "\ufffe",
    "\U0010ffff",
]

# `isdigit()` is True for the first group, but `int()` refuses them; `int()` reads the second
# group (Unicode decimal digits) as ASCII digits would be; the third is numeric but no digit.
OTHER_DIGITS = [
    "²",
    "³",
    "¹",
    "⁰",
    "①",
    "1²",
    "12³",
    "١",
    "٣",
    "١٢٣",
    "٠",
    "०१",
    "০",
    "๓",
    "０",
    "𝟗",
    "½",
    "Ⅻ",
    "〇",
]

NUMBERS = [
    "0",
    "-0",
    "1",
    "-1",
    "+1",
    " 7 ",
    "007",
    "1.5",
    "-1.5",
    "1,5",
    "1_000",
    "0x1f",
    "1e3",
    "1E3",
    "1e999999",
    "-1e999999",
    "1e-999999",
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "3.14159265358979323846",
    "0.000001",
    "2.999",
    "3.001",
    "3650",
    "3651",
    "36600",
    "36601",
    "5220",
    "1200",
    "32767",
    "32768",
    "65536",
    str(2**31 - 1),
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(-(2**63) - 1),
    str(2**64),
    str(10**12),
    str(10**12 + 1),
    str(10**30),
    str(10**400),
    "9" * 4301,  # beyond the 4,300 digits int() reads from text
    "0" * 50 + "1",
]

DATES = [
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "2024-00-10",
    "2024-1-1",
    "0001-01-01",
    "0000-01-01",
    "0999-12-31",
    "1000-01-01",
    "9000-12-31",
    "9999-12-31",
    "10000-01-01",
    "-2024-01-01",
    "2024-01-01T00:00:00",
    "2024-01-01T25:61:00",
    "2024-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+12:00",
    "٢٠٢٤-٠١-٠١",
    "２０２４-０１-０１",
    "2024-01-01\x00",
    "01/02/2024",
    "yesterday",
]

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE members_member; --",
    "' OR '1'='1",
    "{{ 7|add:7 }}",
    "{% debug %}",
    "${7*7}",
    "%s%s%n",
    "%(name)s",
    "../../../etc/passwd",
    "\\",
    "'",
    '"',
    "`",
    "%",
    "_",
    "%%",
    "\\%",
    "*",
    "[",
    "]",
    "{}",
    "[]",
    "null",
    "true",
    "None",
    "undefined",
    "javascript:alert(1)",
    "http://[",
    "//evil.example",
    "https://evil.example/?next=/",
    "@",
    "a@b",
    "@@",
    "x@example.org",
    '=HYPERLINK("http://evil.example")',
    "+cmd|' /C calc'!A0",
]

UNICODE = [
    "Zoë",
    "İstanbul",  # lower() makes it longer
    "ß",
    "ﬃ",
    "Ǆ",
    "🙂",
    "👩\u200d👩\u200d👧",
    "e\u0301",
    "ＡＢＣ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "日本語",
    "עברית",
    "\uffff",
]

EMPTY = ["", " ", "   ", "\t\n", ",", ";", ",,,", "\n\n"]

SPECIALS = [*CONTROL, *OTHER_DIGITS, *NUMBERS, *DATES, *MARKUP, *UNICODE, *EMPTY]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_b64(data: object) -> str:
    return _b64(json.dumps(data).encode())


def deep_json(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + closer * depth
    return opener * depth + closer * depth


DEPTHS = [2, 100, 999, 1_001, 2_500]  # Python's recursion limit is 1,000
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(SPECIALS),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["dt", "dec"]), children, max_size=3
        )
    ),
    max_leaves=8,
)
# What members/paging.py encodes for a datetime or Decimal sort value, with hostile insides.
TAGGED = st.one_of(
    st.builds(lambda value: {"dt": value}, st.sampled_from(DATES) | SCALARS),
    st.builds(
        lambda value: {"dec": value},
        st.sampled_from(["NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "1.5", "-0", "x"])
        | SCALARS,
    ),
)
CURSOR_PKS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, True, False, 2**63 - 1, 2**63, 10**30, -(10**30)]),
    SCALARS,
)


def cursors() -> st.SearchStrategy[str]:
    """Forged `after` / `before` cursors: base64 of JSON [value, pk] of every wrong shape."""
    return st.one_of(
        st.builds(lambda value, pk: _json_b64([value, pk]), SCALARS | TAGGED, CURSOR_PKS),
        st.builds(_json_b64, ANY_JSON),
        st.builds(
            lambda depth, opener: _b64(deep_json(depth, opener).encode()),
            st.sampled_from(DEPTHS),
            st.sampled_from(["[", "{"]),
        ),
        st.builds(_b64, st.binary(max_size=40)),
        st.builds(lambda text: _b64(text.encode()), st.sampled_from(SPECIALS)),
        st.text(alphabet="ABCabc019-_=+/!%.", max_size=20),
    )


def long_text() -> st.SearchStrategy[str]:
    """Long values (at most 5,000 characters): repeated characters, words or list items."""
    return st.builds(
        lambda chunk, length: (chunk * length)[:length],
        st.sampled_from(
            ["a", "word ", ",", "a,", ", ", "\n", "x@example.org,", "%", "<", "\x00", "²", "9", "é"]
        ),
        st.sampled_from([100, 255, 256, 1_000, 2_000, 4_999, 5_000]),
    )


def comma_list() -> st.SearchStrategy[str]:
    """Comma-heavy lists: distinct items (so nothing is dropped as a repeat), around the limits."""
    return st.builds(
        lambda prefix, count, separator: separator.join(f"{prefix}{i}" for i in range(count)),
        st.sampled_from(["", "v", "x@example.org#", "²", "\x00"]),
        st.sampled_from([0, 1, 2, 499, 500, 501, 1_000]),
        st.sampled_from([",", ", ", "\n", ";", ",,"]),
    )


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SPECIALS),
        st.text(max_size=30),
        st.builds(lambda a, b: a + b, st.sampled_from(SPECIALS), st.sampled_from(SPECIALS)),
        long_text(),
        comma_list(),
        cursors(),
        st.builds(deep_json, st.sampled_from(DEPTHS)),
    )


HOSTILE = hostile_text()

# What `corrupted` puts into a valid value.
INSERTS = [*CONTROL[:9], *OTHER_DIGITS[:9], "'", '"', "%", "_", "\\", "<", ",", " "]


def corrupted(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value with one character put in (a NUL, a superscript digit, a quote...), at its
    start, its end or inside: "7²", "sam\x00", "2024-01-01\x00"."""
    insert = weighted(
        (1, st.just("\x00")), (1, st.sampled_from(BAD_DIGITS)), (2, st.sampled_from(INSERTS))
    )
    return st.builds(
        lambda text, insert, where: text[:where] + insert + text[where:],
        valid,
        insert,
        st.sampled_from([10_000, 0, 1]),
    )


def value_or_hostile(*typed: Sequence[str] | st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly what a parameter expects (lists of examples or strategies), else such a value
    corrupted, else any hostile text."""
    valid = _one_of(typed)
    return weighted((2, valid), (1, corrupted(valid)), (1, HOSTILE))


def _one_of(options: Sequence[Sequence[str] | st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    return st.one_of(
        *(
            item if isinstance(item, st.SearchStrategy) else st.sampled_from(item)
            for item in options
        )
    )


# --- Parameters ---------------------------------------------------------------------------------

# Digits `isdigit()` accepts and `int()` refuses.
BAD_DIGITS = [digits for digits in OTHER_DIGITS if digits.isdigit() and not digits.isdecimal()]
HUGE_IDS = [str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(10**30), "9" * 4301]
ODD_IDS = ["abc", "", " 1", "1 ", "-1", "+1", "0", "1.0", "1e3", "0x1", "NaN", "\x00", "1\x00"]
TEXT_SHARP = [*CONTROL, *EMPTY, *MARKUP[:12], *UNICODE[:6], *OTHER_DIGITS[:4]]


@dataclass(frozen=True)
class Param:
    """A parameter a view reads: the values it expects, and the hostile values aimed at its
    kind (the few most likely to hurt), besides valid values corrupted and any hostile text."""

    valid: st.SearchStrategy[str]
    sharp: st.SearchStrategy[str]

    def hostile(self) -> st.SearchStrategy[str]:
        return weighted((4, self.sharp), (2, corrupted(self.valid)), (1, HOSTILE))


def text(*valid: Sequence[str] | st.SearchStrategy[str]) -> Param:
    sharp = weighted(
        (1, st.sampled_from(["\x00", "a\x00b"])),
        (3, st.sampled_from(TEXT_SHARP)),
        (1, long_text()),
        (1, comma_list()),
    )
    return Param(_one_of(valid), sharp)


def number(*valid: Sequence[str] | st.SearchStrategy[str]) -> Param:
    sharp = weighted(
        (1, st.sampled_from(BAD_DIGITS)),
        (1, st.sampled_from(OTHER_DIGITS)),
        (3, st.sampled_from(NUMBERS)),
    )
    return Param(_one_of(valid), sharp)


def date(*valid: Sequence[str] | st.SearchStrategy[str]) -> Param:
    sharp = weighted(
        (2, st.sampled_from(["9999-12-31", "0001-01-01"])),  # a time zone away from overflowing
        (3, st.sampled_from(DATES)),
        (1, st.sampled_from(BAD_DIGITS)),
    )
    return Param(_one_of(valid), sharp)


def choice(*valid: Sequence[str] | st.SearchStrategy[str]) -> Param:
    """One of a few words (a kind, a colour, an action)."""
    values = _one_of(valid)
    shouted = values.map(str.upper)
    return Param(values, weighted((1, shouted), (2, st.sampled_from(TEXT_SHARP))))


def identifier(valid: Sequence[str], foreign: Sequence[str] = ()) -> Param:
    """An object's id in a form field, where nothing keeps it a number."""
    odd = weighted(
        (2, st.sampled_from(BAD_DIGITS)),
        (1, st.sampled_from(OTHER_DIGITS)),
        (2, st.sampled_from(ODD_IDS)),
        (2, st.sampled_from([*HUGE_IDS, *foreign])),
    )
    return Param(st.sampled_from(valid), odd)


def cursor(valid: Sequence[str]) -> Param:
    return Param(st.sampled_from(valid), cursors())


@st.composite
def form(draw, params: Mapping[str, Param], required: Sequence[str] = ()) -> tuple:
    """(name, value) pairs: the parameters' valid values, any of them left out (but the
    `required`), except one, the focus, which is hostile; at times the focus twice, once
    valid. With no focus (now and then) every value is valid."""
    focus = draw(st.sampled_from([*params, None]))
    found = []
    for name, param in params.items():
        if name == focus:
            hostile = (name, draw(param.hostile()))
            if draw(sometimes(6)):
                twice = [(name, draw(param.valid)), hostile]
                found += twice if draw(st.booleans()) else twice[::-1]
            else:
                found.append(hostile)
        elif name in required or draw(st.booleans()):
            found.append((name, draw(param.valid)))
    return tuple(found)


# --- Parameter names ----------------------------------------------------------------------------

ODD_NAMES = [
    "",
    " ",
    "\x00",
    "a[]",
    "a.b",
    "__proto__",
    "csrfmiddlewaretoken",
    "_method",
    "format",
    "page",
    "attributes",
    "attributes.plan",
    "id",
    "pk",
    "next",
]


def names(known: Sequence[str]) -> st.SearchStrategy[str]:
    """Mostly the names a view reads; sometimes an odd or random one."""
    return weighted(
        (4, st.sampled_from(known)), (1, st.sampled_from(ODD_NAMES)), (1, st.text(max_size=12))
    )
