"""The public surface of conformance.bxml and the grammar reader."""

from __future__ import annotations

from pathlib import Path

import pytest

import conformance.bxml as bxml
from conformance.bxml.errors import GrammarError
from conformance.bxml.grammar import grammar, read_grammar

EXPECTED = {
    "ADVISORY_RULES", "CODE_RULES", "CONTEXTS", "MAX_DEPTH", "MAX_DOCUMENT_BYTES", "ROOTS", "RULES",
    "RULE_TABLE", "VERBS", "WARNING_RULES",
    "BxmlArgumentError", "BxmlError", "BxmlValidationError", "DocumentTypeError", "GrammarError",
    "UnknownContextError", "allowed_verbs", "element_path", "first_blocking_error", "is_valid", "iter_errors",
    "iter_problems", "iter_warnings",
    "parse", "validate",
}  # fmt: skip


def test_exported_members() -> None:
    assert set(bxml.__all__) == EXPECTED
    for name in bxml.__all__:
        assert getattr(bxml, name) is not None


def test_verbs_and_roots_come_from_the_grammar() -> None:
    assert bxml.ROOTS == ("Response", "Bxml")
    assert len(bxml.VERBS) == 26
    assert {"Refer", "Connect", "StartTranscription", "Tag"} <= set(bxml.VERBS)
    assert "PhoneNumber" not in bxml.VERBS


def test_grammar_records_what_the_issue_lists() -> None:
    g = grammar()
    assert (g.element("Transfer").min_children, g.element("Transfer").max_children) == (1, 8)
    assert g.element("StartStream").max_children == 12
    assert g.element("StartTranscription").max_children == 12
    assert (g.element("Refer").min_children, g.element("Refer").max_children) == (1, 1)
    assert g.element("Gather").children == ("SpeakSentence", "PlayAudio")
    assert set(g.element("SpeakSentence").children) == {
        "break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub",
    }  # fmt: skip
    max_digits = g.element("Gather").attribute("maxDigits")
    assert max_digits is not None
    assert (max_digits.type.min_inclusive, max_digits.type.max_inclusive) == (1, 50)
    assert g.types["ConferenceName"].accepts("a.b-c_1")
    assert not g.types["ConferenceName"].accepts("x" * 101)
    assert g.types["E164"].accepts(" +15551230000 ")
    assert not g.types["E164"].accepts("+05551230000")


XSD_HEAD = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'


@pytest.mark.parametrize(
    "body",
    [
        '<xs:element name="R" type="T"/><xs:complexType name="T"><xs:sequence/></xs:complexType>',
        '<xs:element name="R" type="T"/><xs:complexType name="T"><xs:choice>'
        '<xs:element name="A" type="T" maxOccurs="3"/></xs:choice></xs:complexType>',
        '<xs:element name="R" type="T"/><xs:complexType name="T"><xs:attribute name="a" type="S"/>'
        '</xs:complexType><xs:simpleType name="S"><xs:restriction base="xs:string">'
        '<xs:totalDigits value="3"/></xs:restriction></xs:simpleType>',
        '<xs:element name="R" type="T"/><xs:complexType name="T"><xs:attribute name="a" type="xs:date"/>'
        "</xs:complexType>",
        "",
    ],
)
def test_grammar_reader_refuses_constructs_it_would_misread(tmp_path: Path, body: str) -> None:
    path = tmp_path / "g.xsd"
    path.write_text(XSD_HEAD + body + "</xs:schema>")
    with pytest.raises(GrammarError):
        read_grammar(path)


def test_advisory_rules_are_rules() -> None:
    assert bxml.ADVISORY_RULES.issubset(bxml.RULES)
