"""Realistic value strategies for webhook fields: numbers, ids, times, durations, digits, tags.

These generators know what the platform really sends (E.164 numbers from many countries, ids in the
documented shapes, ISO-8601 durations, gather digits ...).  :mod:`conformance.fuzz.strategies` picks
one by field name when it walks an event's JSON Schema and keeps the schema's own constraints.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from math import prod
from typing import Any, Generic, TypeVar
from uuid import UUID

from hypothesis import strategies as st

T = TypeVar("T")
U = TypeVar("U")

API_ROOT = "https://voice.bandwidth.com/api/v2"

# (country code, lengths of the national significant number).  E.164 caps the whole at 15 digits.
_COUNTRIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("1", (10,)),  # North America
    ("44", (10,)),  # United Kingdom
    ("49", (10, 11)),  # Germany
    ("33", (9,)),  # France
    ("34", (9,)),  # Spain
    ("39", (9, 10)),  # Italy
    ("353", (9,)),  # Ireland
    ("81", (9, 10)),  # Japan
    ("86", (11,)),  # China
    ("91", (10,)),  # India
    ("61", (9,)),  # Australia
    ("64", (8, 9)),  # New Zealand
    ("55", (10, 11)),  # Brazil
    ("52", (10,)),  # Mexico
    ("54", (10,)),  # Argentina
    ("27", (9,)),  # South Africa
    ("234", (10,)),  # Nigeria
    ("971", (9,)),  # United Arab Emirates
    ("7", (10,)),  # Russia / Kazakhstan
    ("82", (9, 10)),  # South Korea
    ("65", (8,)),  # Singapore
    ("852", (8,)),  # Hong Kong
    ("358", (9, 10)),  # Finland
    ("420", (9,)),  # Czechia
)

# Presentations a caller id can carry instead of a number (documented for ``from``).
WITHHELD_CALLER_IDS = ("Private", "Restricted", "Unavailable", "Anonymous")

DISCONNECT_CAUSES = (
    "hangup",
    "busy",
    "timeout",
    "cancel",
    "rejected",
    "callback-error",
    "invalid-bxml",
    "application-error",
    "account-limit",
    "node-capacity-exceeded",
    "error",
    "unknown",
)

DTMF_DIGITS = "0123456789*#"

# Text that breaks BXML built by string concatenation: markup, entities, quotes, CDATA ends.
MARKUP_TEXT = (
    "<",
    "&",
    "a&b",
    "<Hangup/>",
    "</Response>",
    '"quoted"',
    "it's",
    "]]>",
    "&amp;",
    "Tom & Jerry's <b>",
)

# Tags that break naive string handling: markup, quoting, escapes, non-ASCII, the 256-char limit.
TRICKY_TAGS = (
    "",
    " ",
    *MARKUP_TEXT,
    "x" * 256,
    "é" * 256,
    "{'json': true}",
    '{"menu":"sales","step":2}',
    "line\nbreak",
    "tab\tand\\backslash",
    "日本語のタグ",
    "emoji 📞☎",
    "%s%d{0}",
    "Robert'); DROP TABLE calls;--",
)


@dataclass(frozen=True)
class _Indexed(Generic[T]):
    """``count`` values, the ``i``-th being ``at(i)``, drawn as one integer choice and one map.

    A ``one_of`` costs a branch choice and three layers (itself, a ``sampled_from`` of its
    branches, the branch) and a ``builds`` a layer per part; every layer is a draw of its own,
    which is most of what a payload costs.  Index 0 is what the value shrinks to."""

    count: int
    at: Callable[[int], T]

    def strategy(self) -> st.SearchStrategy[T]:
        return st.integers(0, self.count - 1).map(self.at)

    def then(self, finish: Callable[[T], U]) -> _Indexed[U]:
        """The same values passed through ``finish`` (no further layer when drawn)."""
        at = self.at
        return _Indexed(self.count, lambda index: finish(at(index)))


def _listed(options: Sequence[T]) -> _Indexed[T]:
    return _Indexed(len(options), options.__getitem__)


def _any_of(*parts: _Indexed[T]) -> _Indexed[T]:
    """A value of one of ``parts``, each about equally likely however small the index: its low
    part picks the part, the rest (modulo the part's count) the value."""

    def at(index: int) -> T:
        rest, which = divmod(index, len(parts))
        part = parts[which]
        return part.at(rest % part.count)

    return _Indexed(len(parts) * max(part.count for part in parts), at)


def _all_of(finish: Callable[..., T], *parts: _Indexed[Any]) -> _Indexed[T]:
    """``finish`` of one value of each part; the first part varies fastest with the index."""

    def at(index: int) -> T:
        picked = []
        for part in parts:
            index, which = divmod(index, part.count)
            picked.append(part.at(which))
        return finish(*picked)

    return _Indexed(prod(part.count for part in parts), at)


def _span(low: int, high: int, finish: Callable[[int], T]) -> _Indexed[T]:
    """``finish(n)`` for ``low <= n <= high``."""
    return _Indexed(high - low + 1, lambda index: finish(low + index))


def _number(code: str) -> Callable[[int], str]:
    return lambda national: f"+{code}{national}"


# Every (country, length of its national numbers), each about equally likely.
_E164 = _any_of(
    *(_span(2 * 10 ** (n - 1), 10**n - 1, _number(code)) for code, lengths in _COUNTRIES for n in lengths)
)


@cache
def e164_numbers() -> st.SearchStrategy[str]:
    """E.164 numbers (``+`` then up to 15 digits) from many countries, not only ``+1``."""
    return _E164.strategy()


_SIP_USERS = ("alice", "bob", "reception", "ivr.main", "agent_7", "front-desk", "u")
_SIP_HOSTS = ("example.com", "sip.example.net", "pbx.example.org", "10.0.0.12", "192.0.2.55", "[2001:db8::5]")
_SIP_PORTS = ("", "", ":5060", ":5061", ";transport=tls")
_SIP = _all_of(
    lambda host, port, user: f"sip:{user}@{host}{port}",
    _listed(_SIP_HOSTS),
    _listed(_SIP_PORTS),
    _any_of(_listed(_SIP_USERS), _E164),
)


@cache
def sip_uris() -> st.SearchStrategy[str]:
    """SIP URIs such as ``sip:alice@example.com`` or ``sip:+15551234567@10.0.0.1:5060``."""
    return _SIP.strategy()


@cache
def caller_ids() -> st.SearchStrategy[str]:
    """What arrives in ``from``: a number, a SIP URI or a withheld presentation."""
    return _any_of(_E164, _SIP, _listed(WITHHELD_CALLER_IDS)).strategy()


@cache
def destinations() -> st.SearchStrategy[str]:
    """What arrives in ``to`` / ``transferTo``: a number or a SIP URI."""
    return _any_of(_E164, _SIP).strategy()


def _split_id(number: int) -> str:
    digits = format(number, "040x")
    return "-".join((digits[:8], digits[8:16], digits[16:20], digits[20:24], digits[24:28], digits[28:]))


_ID_BITS = 16**40 - 1


@cache
def _ids(prefix: str) -> st.SearchStrategy[str]:
    """``prefix`` and the 45-character body shared by call, conference and recording ids
    (``8-8-4-4-4-12`` hex).  One 160-bit draw and one map: generation and shrinking are per choice,
    and every layer of a strategy costs a draw of its own."""
    return st.integers(0, _ID_BITS).map(lambda number: prefix + _split_id(number))


@cache
def call_ids() -> st.SearchStrategy[str]:
    """``c-`` and 45 characters: 47 in all."""
    return _ids("c-")


@cache
def conference_ids() -> st.SearchStrategy[str]:
    """``conf-`` and 45 characters: 50 in all."""
    return _ids("conf-")


@cache
def recording_ids() -> st.SearchStrategy[str]:
    """``r-`` and 45 characters: 47 in all."""
    return _ids("r-")


@cache
def transcription_ids() -> st.SearchStrategy[str]:
    """A real-time transcription's id: ``t-`` and 45 characters, 47 in all."""
    return _ids("t-")


@cache
def recording_transcription_ids() -> st.SearchStrategy[str]:
    """A recording's transcription id: ``t-`` and a UUID, 38 in all (the documented format)."""
    return st.integers(1, 2**128 - 1).map(lambda number: f"t-{UUID(int=number)}")


@cache
def stream_ids() -> st.SearchStrategy[str]:
    return _ids("s-")


@cache
def uuids() -> st.SearchStrategy[str]:
    """Any non-nil UUID, from one 128-bit choice.  (``st.uuids()`` seeds a random generator shared by
    the whole example, three layers deep, and shrinks the seed rather than the UUID.)"""
    return st.integers(1, 2**128 - 1).map(lambda number: str(UUID(int=number)))


@cache
def account_ids() -> st.SearchStrategy[str]:
    """Account ids are digits (seven in the contract's examples, eight in the docs')."""
    return _any_of(_span(1_000_000, 9_999_999, str), _span(10_000_000, 99_999_999, str)).strategy()


@cache
def sip_call_ids() -> st.SearchStrategy[str]:
    return st.builds(
        lambda token, host: f"{token:x}@{host}",
        st.integers(16**7, 16**32 - 1),
        st.sampled_from(("10.0.0.1", "192.0.2.7", "sbc.example.com")),
    )


@cache
def gather_digits() -> st.SearchStrategy[str]:
    """``digits`` of a gather event: empty on timeout, a menu choice, or up to 50 keys."""
    # one_of counts a branch once however often it is given (by identity): two equal branches
    return st.one_of(
        st.just(""),
        st.sampled_from(DTMF_DIGITS),
        st.sampled_from(DTMF_DIGITS),  # single keys are what menus see most
        st.text(DTMF_DIGITS, min_size=2, max_size=50),
        st.tuples(st.text(DTMF_DIGITS, max_size=6), st.sampled_from("#*")).map(
            "".join
        ),  # ends on a terminator
    )


@cache
def terminating_digits() -> st.SearchStrategy[str]:
    """``terminatingDigit``: empty when the gather ended another way, else one key."""
    return st.one_of(st.just(""), st.sampled_from(DTMF_DIGITS))


@cache
def dtmf_digits() -> st.SearchStrategy[str]:
    return st.sampled_from(DTMF_DIGITS)


@cache
def _printable() -> st.SearchStrategy[str]:
    """Any character an XML document can carry: no control, surrogate or private-use code points."""
    return st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co"))


@cache
def tags() -> st.SearchStrategy[str]:
    """Tags: any characters, quotes, ``&``, ``<``, non-ASCII, up to exactly 256 characters."""
    printable = _printable()
    # A short seed repeated to exactly 256 characters keeps the choice sequence (and shrinking) small.
    full_length = st.text(printable, min_size=1, max_size=8).map(lambda seed: (seed * 256)[:256])
    # The text most likely to break BXML, drawn most often: two equal branches, not one branch
    # given twice (one_of counts a branch once however often it is given).
    markup = (st.sampled_from(MARKUP_TEXT), st.sampled_from(MARKUP_TEXT))
    return st.one_of(*markup, st.sampled_from(TRICKY_TAGS), st.text(printable, max_size=40), full_length)


def free_text(max_size: int = 40) -> st.SearchStrategy[str]:
    printable = _printable()
    return st.one_of(st.sampled_from(MARKUP_TEXT), st.text(printable, max_size=max_size))


@cache
def conference_names() -> st.SearchStrategy[str]:
    """Conference names as ``<Conference>`` accepts them: 1-100 of letters, digits, ``-_.``."""
    return st.one_of(
        st.sampled_from(("room", "sales-daily", "team_42", "a.b", "x" * 100)),
        st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=100),
    )


@cache
def duration_seconds() -> st.SearchStrategy[Decimal]:
    """Durations from a few milliseconds to four hours, with up to nine decimals."""
    return _DURATIONS.strategy()


# Durations as a count of units: (lowest, highest, the unit in nanoseconds).
_DURATION_RANGES = (
    (1, 999_999_999, 1),  # under a second, nanosecond resolution
    (1_000, 60_000, 1_000_000),  # seconds, millisecond resolution
    (60, 3_600, 1_000_000_000),  # minutes, second resolution
    (3_600_000, 14_400_000, 1_000_000),  # hours, millisecond resolution
)


def _in_units(unit: int) -> Callable[[int], Decimal]:
    return lambda count: Decimal(count * unit).scaleb(-9).normalize()


_DURATIONS = _any_of(*(_span(low, high, _in_units(unit)) for low, high, unit in _DURATION_RANGES))


def iso_duration(seconds: Decimal) -> str:
    """Format seconds as an ISO-8601 duration: ``PT0.2S``, ``PT13.67S``, ``PT1H2M3.5S``."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    whole = int(seconds)
    fraction = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    sec_text = format((Decimal(secs) + fraction).normalize(), "f")
    if sec_text != "0" or text == "PT":
        text += f"{sec_text}S"
    return text


@cache
def iso_durations() -> st.SearchStrategy[str]:
    return _DURATIONS.then(iso_duration).strategy()


_EPOCH_START = datetime(2016, 1, 1, tzinfo=UTC)
_EPOCH_END = datetime(2036, 1, 1, tzinfo=UTC)


@cache
def instants() -> st.SearchStrategy[datetime]:
    """A point in time with millisecond resolution, in UTC."""
    return _INSTANTS.strategy()


_SPAN_MS = int((_EPOCH_END - _EPOCH_START).total_seconds() * 1000)
_INSTANTS = _span(0, _SPAN_MS, lambda ms: _EPOCH_START + timedelta(milliseconds=ms))


def format_time(moment: datetime, style: int = 3) -> str:
    """RFC 3339 in UTC with ``style`` fractional digits (0, 3 or 6): ``2024-05-01T10:00:00.123Z``."""
    base = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if style == 0:
        return base + "Z"
    return f"{base}.{moment.microsecond:06d}"[: len(base) + 1 + style] + "Z"


@cache
def timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 times with 3, 6 or no fractional digits (3 most often), one choice each."""
    return _all_of(
        lambda style, moment: format_time(moment, style), _listed((3, 3, 6, 0)), _INSTANTS
    ).strategy()


def call_url(account_id: str, call_id: str) -> str:
    return f"{API_ROOT}/accounts/{account_id}/calls/{call_id}"


@cache
def media_urls() -> st.SearchStrategy[str]:
    return st.builds(
        lambda account, call, rec: f"{call_url(account, call)}/recordings/{rec}/media",
        account_ids(),
        call_ids(),
        recording_ids(),
    )


@cache
def urls() -> st.SearchStrategy[str]:
    return st.builds(call_url, account_ids(), call_ids())


@cache
def sip_header_maps() -> st.SearchStrategy[dict[str, str]]:
    """``sipHeaders`` of an initiate event: lower-cased ``x-*`` INVITE headers."""
    names = st.from_regex(r"x-[a-z][a-z0-9-]{0,20}", fullmatch=True)
    return st.dictionaries(names, free_text(60), max_size=4)


__all__ = [
    "API_ROOT",
    "DISCONNECT_CAUSES",
    "DTMF_DIGITS",
    "MARKUP_TEXT",
    "TRICKY_TAGS",
    "WITHHELD_CALLER_IDS",
    "account_ids",
    "call_ids",
    "call_url",
    "caller_ids",
    "conference_ids",
    "conference_names",
    "destinations",
    "dtmf_digits",
    "duration_seconds",
    "e164_numbers",
    "format_time",
    "free_text",
    "gather_digits",
    "instants",
    "iso_duration",
    "iso_durations",
    "media_urls",
    "recording_ids",
    "recording_transcription_ids",
    "sip_call_ids",
    "sip_header_maps",
    "sip_uris",
    "stream_ids",
    "tags",
    "terminating_digits",
    "timestamps",
    "transcription_ids",
    "uuids",
]
