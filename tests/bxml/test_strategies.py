"""Generated documents: every valid one is valid to both XSD engines and to the rules; every
mutation is rejected for its own rule."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from lxml import etree

from conformance.bxml import (
    CONTEXTS,
    MAX_DOCUMENT_BYTES,
    RULES,
    VERBS,
    BxmlArgumentError,
    allowed_verbs,
    is_valid,
    iter_errors,
)
from conformance.bxml.mutations import MUTATIONS, mutation_rules
from conformance.bxml.rules import CODE_RULES
from conformance.bxml.schema import lxml_schema, xmlschema_schema
from conformance.bxml.strategies import bxml_documents, invalid_bxml_documents, pad_to

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
MUTATION = settings(PROPERTY, max_examples=25)
# Mutations that the XSD alone must catch: both engines must call those documents invalid.
XSD_RULES = {
    "unknown-element", "forbidden-child", "too-many-children", "too-few-children", "unexpected-text",
    "unknown-attribute", "missing-attribute", "attribute-value", "attribute-range", "text-value",
}  # fmt: skip


def _engines_agree(document: str) -> bool:
    tree = etree.fromstring(document.encode()).getroottree()
    by_lxml = bool(lxml_schema().validate(tree))
    by_xmlschema = bool(xmlschema_schema().is_valid(tree))
    assert by_lxml == by_xmlschema, document
    return by_lxml


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_generated_documents_are_valid(context: str) -> None:
    @PROPERTY
    @given(bxml_documents(context))
    def check(document: str) -> None:
        assert [str(e) for e in iter_errors(document, context)] == []
        assert is_valid(document, context)
        assert _engines_agree(document)
        root = etree.fromstring(document.encode())
        assert {child.tag for child in root} <= set(allowed_verbs(context))

    check()


@PROPERTY
@given(bxml_documents(verbs=["Transfer", "Gather"]))
def test_verbs_narrows_the_documents(document: str) -> None:
    assert {child.tag for child in etree.fromstring(document.encode())} <= {"Transfer", "Gather"}
    assert not list(iter_errors(document))


@PROPERTY
@given(st.sampled_from(sorted(VERBS)).flatmap(lambda verb: bxml_documents(verbs=[verb], max_verbs=2)))
def test_each_verb_alone_generates_valid_documents(document: str) -> None:
    assert not list(iter_errors(document))
    assert _engines_agree(document)


def _check_mutation(context: str, rule: str) -> None:
    @MUTATION
    @given(invalid_bxml_documents(context, [rule]))
    def check(pair: tuple[str, str]) -> None:
        document, named = pair
        assert named == rule
        found = [e.rule for e in iter_errors(document, context)]
        assert rule in found, (document, found)
        assert not is_valid(document, context)
        assert set(found) <= set(RULES)
        if rule in XSD_RULES:
            assert not _engines_agree(document)

    check()


@pytest.mark.parametrize("rule", mutation_rules("call"))
def test_every_mutation_is_rejected_for_its_rule_in_call_bxml(rule: str) -> None:
    _check_mutation("call", rule)


@pytest.mark.parametrize(
    ("context", "rule"),
    [(c, r) for c in ("conference", "transferAnswer") for r in mutation_rules(c) if r in {
        "context-forbidden", "unknown-element", "attribute-value", "missing-text", "forbidden-child",
    }],
)  # fmt: skip
def test_mutations_in_other_contexts(context: str, rule: str) -> None:
    _check_mutation(context, rule)


def test_mutation_catalogue_covers_the_rules() -> None:
    assert set(MUTATIONS) <= set(RULES)
    # invalid-encoding cannot be carried by a str document; the hostile tests cover it with bytes.
    assert set(RULES) - set(MUTATIONS) == {"invalid-encoding"}
    assert "context-forbidden" not in mutation_rules("call")
    assert "context-forbidden" in mutation_rules("conference")


@PROPERTY
@given(invalid_bxml_documents())
def test_mixed_mutations_are_invalid(pair: tuple[str, str]) -> None:
    document, rule = pair
    assert rule in {e.rule for e in iter_errors(document)}


def test_pad_to_hits_the_byte_count_and_stays_valid() -> None:
    for document in ("<Response/>", '<?xml version="1.0" encoding="UTF-8"?>\n<Bxml><Tag>\u00e9</Tag></Bxml>'):
        padded = pad_to(document, MAX_DOCUMENT_BYTES - 1)
        assert len(padded.encode()) == MAX_DOCUMENT_BYTES - 1
        assert not list(iter_errors(padded))
        assert [e.rule for e in iter_errors(pad_to(document, MAX_DOCUMENT_BYTES + 1))] == [
            "document-too-large"
        ]


def test_bad_arguments_are_named_errors() -> None:
    with pytest.raises(BxmlArgumentError) as caught:
        invalid_bxml_documents(rules=["not-a-rule"])
    assert caught.value.reason == "unknown-rule"
    with pytest.raises(ValueError, match="unknown BXML context"):
        bxml_documents("meeting")
    with pytest.raises(ValueError, match="not BXML verbs"):
        bxml_documents(verbs=["Dance"])
    with pytest.raises(ValueError, match="not allowed in conference"):
        bxml_documents("conference", verbs=["Transfer"])
    with pytest.raises(ValueError, match="no mutation"):
        invalid_bxml_documents(rules=["not-a-rule"])
    with pytest.raises(ValueError, match="can be broken"):
        invalid_bxml_documents("conference", rules=["repeat-count-limit"])


@pytest.mark.parametrize("rule", ["attribute-range"])
def test_mutations_shrink_to_small_documents(rule: str) -> None:
    document, named = find(
        invalid_bxml_documents(rules=[rule]),
        lambda pair: True,
        settings=settings(database=None, max_examples=30, suppress_health_check=list(HealthCheck)),
    )
    assert named == rule
    assert rule in {e.rule for e in iter_errors(document)}
    assert len(document) < 700, document


def test_valid_documents_shrink_to_an_empty_root() -> None:
    document = find(
        bxml_documents(verbs=["Pause", "Gather", "Hangup"], max_verbs=3),
        lambda d: True,
        settings=settings(database=None, max_examples=10),
    )
    assert document in ("<Response/>", '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>')


def _typed_slots() -> list[tuple[str, str]]:
    from conformance.bxml.grammar import grammar

    slots = []
    for name, decl in sorted(grammar().elements.items()):
        if name in grammar().roots:
            continue
        slots.extend((name, attribute.name) for attribute in decl.attributes)
        if decl.text is not None:
            slots.append((name, "#text"))
    return slots


@settings(PROPERTY, max_examples=150)
@given(st.data())
def test_every_attribute_and_text_value_generated_is_valid_to_both_engines(data: st.DataObject) -> None:
    from conformance.bxml.grammar import grammar
    from conformance.bxml.mutations import _hosted
    from conformance.bxml.values import value_strategy

    name, slot = data.draw(st.sampled_from(_typed_slots()))
    root, target = data.draw(_hosted("call", name))
    decl = grammar().element(name)
    if slot == "#text":
        assert decl.text is not None
        target.text = data.draw(value_strategy(decl.text))
    else:
        attribute = decl.attribute(slot)
        assert attribute is not None
        target.set(slot, data.draw(value_strategy(attribute.type)))
    document = etree.tostring(root, encoding="unicode")
    if not is_valid(document):  # a value may legitimately trip a code rule (e.g. http + credentials)
        assert {e.rule for e in iter_errors(document)} <= {rule.name for rule in CODE_RULES}
    assert _engines_agree(document)
