"""Cross-SDK conformance: BXML in the shape the other official SDKs emit, and the documented
examples, is accepted; SDK output the documentation forbids is refused for its named rule.

The documents are data in ``tests/bxml/cross_sdk/`` (one file each, with the SDK source it was
written from); ``bench/bxml_sdk.py`` prints the accepted share and the validation speed over them.
"""

from __future__ import annotations

import pytest
from lxml import etree

from conformance.bxml import RULES, VERBS, is_valid, iter_errors
from conformance.bxml.validator import iter_warnings

from .cross_sdk import SOURCES, CrossSdkDocument, load
from .examples import EXAMPLES

DOCUMENTS = load()
MUST_ACCEPT = [d for d in DOCUMENTS if d.must_accept]
MUST_REFUSE = [d for d in DOCUMENTS if not d.must_accept]

#: The Java, PHP and C# SDKs write diversionReason beside diversionTreatment="none" or
#: "propagate"; the documentation says the reason is then ignored, so the validator warns.
DIVERSION_RULE = "diversion-reason-without-stack"


def _reason_without_stack(document: CrossSdkDocument) -> bool:
    root = etree.fromstring(document.text.encode())
    return any(
        e.get("diversionReason") is not None and e.get("diversionTreatment") != "stack"
        for e in root.iter("Forward", "Transfer")
    )


def _problems(text: str) -> list[str]:
    return [f"{e.rule}: {e}" for e in iter_errors(text)]


@pytest.mark.parametrize("document", [pytest.param(d, id=d.name) for d in MUST_ACCEPT])
def test_sdk_shaped_document_is_accepted(document: CrossSdkDocument) -> None:
    assert _problems(document.text) == [], document.source
    assert is_valid(document.text)
    warned = {e.rule for e in iter_warnings(document.text)}
    assert (DIVERSION_RULE in warned) == _reason_without_stack(document), sorted(warned)


def test_the_sdks_diversion_defaults_are_among_the_documents() -> None:
    warned = [d.name for d in MUST_ACCEPT if _reason_without_stack(d)]
    assert {name.split("/")[0] for name in warned} >= {"java", "php", "csharp"}, warned


@pytest.mark.parametrize("document", [pytest.param(d, id=d.name) for d in MUST_REFUSE])
def test_sdk_defect_is_refused_for_its_rule(document: CrossSdkDocument) -> None:
    assert document.refused_for in RULES, document.refused_for
    found = {e.rule for e in iter_errors(document.text)}
    assert document.refused_for in found, (document.source, sorted(found))
    assert not is_valid(document.text)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_documented_example_is_accepted(name: str) -> None:
    assert _problems(EXAMPLES[name]) == []


def test_every_sdk_has_documents_and_every_verb_is_covered() -> None:
    by_source = {source: [d for d in MUST_ACCEPT if d.name.startswith(f"{source}/")] for source in SOURCES}
    assert all(by_source.values()), {s: len(v) for s, v in by_source.items()}
    used: set[str] = set()
    for text in [d.text for d in MUST_ACCEPT] + list(EXAMPLES.values()):
        used.update(e.tag for e in etree.fromstring(text.encode()).iter() if isinstance(e.tag, str))
    assert set(VERBS) <= used, sorted(set(VERBS) - used)


def test_the_gaps_of_issue_12_are_closed() -> None:
    # One document for each class the issue names: a Java-only voice, a locale with a variant,
    # a loosely written list of call ids to coach, and a Connect with no Endpoint.
    for document in (
        '<Response><SpeakSentence voice="geraint">Helo.</SpeakSentence></Response>',
        '<Response><SpeakSentence locale="en_GB_WLS">Helo.</SpeakSentence></Response>',
        '<Response><Conference callIdsToCoach="c-1234abcd, c-9876zyxwv">room</Conference></Response>',
        "<Response><Connect/></Response>",
    ):
        assert _problems(document) == [], document
    # ... while what the documentation states is still refused.
    for document, rule in (
        ('<Response><SpeakSentence voice="robot">Hi.</SpeakSentence></Response>', "attribute-value"),
        ('<Response><SpeakSentence locale="english">Hi.</SpeakSentence></Response>', "attribute-value"),
        ('<Response><Conference callIdsToCoach="c-1 c-2">room</Conference></Response>', "attribute-value"),
        ('<Response><Conference callIdsToCoach="c-1,,c-2">room</Conference></Response>', "attribute-value"),
        ('<Response><Conference callIdsToCoach="">room</Conference></Response>', "attribute-value"),
        ("<Response><Bridge>" + "c" * 129 + "</Bridge></Response>", "text-value"),
    ):
        assert rule in {e.rule for e in iter_errors(document)}, document
