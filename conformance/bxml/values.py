"""Hypothesis strategies for the values of the grammar's simple types.

Every strategy is derived from a :class:`~conformance.bxml.grammar.SimpleType` (its facets) and
filtered through ``SimpleType.accepts``; for the types that carry a realistic shape (URLs, E.164
numbers, call ids, SIP URIs ...) the named type gets a generator that looks like real traffic,
still filtered by the facets, so a change to the XSD narrows the values at once.  Edge values
(range bounds, the longest allowed text, empty optional text) are drawn on purpose.
"""

from __future__ import annotations

import base64
from decimal import Decimal

from hypothesis import strategies as st

from conformance.bxml.grammar import SimpleType, python_pattern

__all__ = ["LOCALES", "rarely", "value_strategy", "words", "xml_text"]

#: Characters XML 1.0 can carry in text and attributes (no controls, surrogates, non-characters).
xml_text = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn", "Co"))

_WORDS = (
    "hello", "please", "press", "one", "for", "sales", "your", "call", "is", "important",
    "to", "us", "goodbye", "thank", "you", "leave", "a", "message", "after", "the", "tone",
)  # fmt: skip
_HOSTS = ("example.com", "myapp.example.com", "voice.example.org", "bxml.test", "127.0.0.1:8080")
_PATHS = ("bxml", "callbacks", "answer", "gather", "next", "v1", "hooks", "recording", "status")
#: SpeakSentence locales from the documentation and the SDKs (the Java SDK's list is the longest).
LOCALES = (
    "en_US", "en_UK", "en_GB", "en_GB_WLS", "en_AU", "en_IN", "de", "es", "es_MX", "es_US", "fr",
    "fr_CA", "it", "ja", "ru", "arb", "cmn-CN", "da_DK", "ro_RO", "nl_NL",
)  # fmt: skip
_LANGS = ("en-US", "en-GB", "es-MX", "es-US", "fr-FR", "fr-CA", "de-DE", "it-IT", "ja-JP", "pt-BR")


def words(min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[str]:
    """A short sentence of plain words."""
    return st.lists(st.sampled_from(_WORDS), min_size=min_size, max_size=max_size).map(" ".join)


_pick = st.integers(0, 31)


def rarely(edge: st.SearchStrategy[str], common: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``common`` most of the time, ``edge`` about one draw in thirty-two (shrinks to ``common``)."""

    @st.composite
    def choose(draw: st.DrawFn) -> str:
        return draw(edge) if draw(_pick) == 11 else draw(common)

    return choose()


# Values with many characters are drawn as one number and formatted: far fewer choices per
# document than character-by-character text, so generation stays fast and shrinks well.
def _call_id_from(n: int) -> str:
    h = f"{n:040x}"
    return f"c-{h[:8]}-{h[8:16]}-{h[16:20]}-{h[20:24]}-{h[24:28]}-{h[28:]}"


_NAMES = ("agent", "queue", "room", "main", "feed", "notes", "sales", "ops", "ivr", "desk")
_identifier = st.builds(
    lambda name, n: f"{name}_{n}" if n else name, st.sampled_from(_NAMES), st.integers(0, 999)
)
# Mostly the real shape; sometimes a short id, which the grammar also takes (ids are checked loosely).
_call_id = rarely(_identifier.map("c-{}".format), st.integers(0, 16**40 - 1).map(_call_id_from))
_call_id_list = st.builds(str.join, st.sampled_from((",", ", ")), st.lists(_call_id, min_size=1, max_size=3))
_e164 = rarely(
    st.integers(1, 10**15 - 1).map(lambda n: f"+{n}"),
    st.integers(2_000_000_000, 9_999_999_999).map(lambda n: f"+1{n}"),
)
_path = st.lists(st.sampled_from(_PATHS), min_size=1, max_size=3).map("/".join)
_absolute_url = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(("https", "http")),
    st.sampled_from(_HOSTS),
    _path,
)
_relative_url = st.one_of(_path, _path.map(lambda p: "/" + p))
_audio_url = st.builds(
    lambda url, ext: f"{url}.{ext}", st.one_of(_absolute_url, _relative_url), st.sampled_from(("wav", "mp3"))
)
_sip = st.builds(
    lambda scheme, user, host: f"{scheme}:{user}@{host}",
    st.sampled_from(("sip", "sips")),
    _identifier,
    st.sampled_from(_HOSTS),
)
_privacy_words = st.sampled_from(("Restricted", "Anonymous", "Private", "Unavailable"))

#: Realistic generators for the named types of bxml.xsd / ssml.xsd.  Each is still filtered
#: through the type's facets, so these can only narrow what the grammar allows.
_REALISTIC: dict[str, st.SearchStrategy[str]] = {
    "Url": st.one_of(_absolute_url, _relative_url),
    "WebSocketUrl": st.builds(lambda h, p: f"wss://{h}/{p}", st.sampled_from(_HOSTS), _path),
    "E164": _e164,
    "CallerId": st.one_of(_e164, _privacy_words),
    "TransferCallerId": st.one_of(_e164, _privacy_words, st.just("")),
    "SipAddress": _sip,
    "ForwardDestination": st.one_of(_e164, _sip),
    "CallId": _call_id,
    "CallIdList": _call_id_list,
    "ConferenceName": rarely(st.just("c" * 100), st.builds("{}-{}".format, _identifier, st.integers(0, 99))),
    "Username": rarely(st.just(""), _identifier),
    "Password": rarely(st.text(xml_text, min_size=1, max_size=16), _identifier.map(str.upper)),
    "CallTag": rarely(st.sampled_from(("", "t" * 256, "\u00e9t\u00e9 \u2603")), words(1, 4)),
    "TagText": rarely(st.just("t" * 256), words(0, 4)),
    "DisplayName": rarely(st.just("N" * 256), words(1, 3).map(str.title)),
    "Uui": st.integers(1, 2**192 - 1).map(lambda n: base64.b64encode(n.to_bytes(24, "big")).decode()),
    "MediaName": rarely(st.just("n" * 256), _identifier),
    "MediaParamValue": rarely(st.sampled_from(("v" * 2048, "", "x=1&y=\u00fc")), words(1, 3)),
    "FreeText": words(1, 5),
    "Locale": st.sampled_from(LOCALES),
    "xs:language": st.sampled_from(_LANGS),
    "EndpointId": st.integers(0, 16**32 - 1).map(lambda n: f"e-{n:032x}"),
    "DtmfDigits": rarely(st.just("1" * 50), st.text("0123456789*#abcdABCD,wW", min_size=1, max_size=8)),
    "TerminatingDigits": st.text("0123456789*#", max_size=3),
    "SsmlBreakTime": st.one_of(
        st.sampled_from(("500ms", "1s", "2.5s", "10s", "10000ms", "0ms")),
        st.integers(0, 10000).map(lambda n: f"{n}ms"),
    ),
    "SsmlPronunciation": words(1, 2),
    "SsmlWords": words(1, 4),
}


def _number(simple: SimpleType) -> st.SearchStrategy[str]:
    low = simple.min_inclusive if simple.min_inclusive is not None else simple.min_exclusive
    high = simple.max_inclusive if simple.max_inclusive is not None else simple.max_exclusive
    low = low if low is not None else Decimal(0)
    high = high if high is not None else max(low, Decimal(0)) + 600
    edges = [v for v in (low, high) if simple.accepts(format(v, "f"))]
    if simple.base == "integer":
        inner = st.integers(int(low), int(high)).map(str)
    else:
        inner = st.one_of(
            st.integers(int(low), int(high)).map(str),
            st.decimals(min_value=low, max_value=high, places=2, allow_nan=False, allow_infinity=False).map(
                lambda d: format(d, "f")
            ),
        )
    if edges:
        inner = rarely(st.sampled_from([format(v, "f") for v in edges]), inner)
    return inner


def _from_facets(simple: SimpleType) -> st.SearchStrategy[str]:
    if simple.enumeration:
        return st.sampled_from(simple.enumeration)
    if simple.numeric:
        return _number(simple)
    if simple.patterns:
        return st.from_regex(python_pattern(simple.patterns[-1]), fullmatch=True)
    low = simple.min_length or 0
    high = simple.max_length if simple.max_length is not None else max(low, 24)
    return st.text(xml_text, min_size=low, max_size=min(high, max(low, 24)))


_cache: dict[str, st.SearchStrategy[str]] = {}


def value_strategy(simple: SimpleType) -> st.SearchStrategy[str]:
    """Values of ``simple``: realistic when the type has a known shape, else from its facets."""
    cached = _cache.get(simple.name)
    if cached is None:
        base = _REALISTIC.get(simple.name, _from_facets(simple))
        cached = base.filter(simple.accepts)
        _cache[simple.name] = cached
    return cached
