"""Hypothesis strategies for BXML, derived from the grammar the validator uses.

:func:`bxml_documents` walks :func:`conformance.bxml.grammar.grammar` (read from
``xsd/bxml.xsd``): which verbs a context allows, each element's attributes and their types,
which children it takes and how many, its text.  The code rules' own ``repair`` functions
(:data:`conformance.bxml.rules.CODE_RULES`) then bring each document inside the rules XSD cannot
say.  There is no second model of BXML here, so generator and validator cannot drift apart.

:func:`invalid_bxml_documents` (in :mod:`conformance.bxml.mutations`, re-exported here) makes
``(document, rule)`` pairs by named mutations of valid documents.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlArgumentError
from conformance.bxml.grammar import ElementDecl, grammar
from conformance.bxml.parsing import MAX_DOCUMENT_BYTES
from conformance.bxml.rules import CODE_RULES, allowed_verbs, check_context
from conformance.bxml.values import value_strategy, words

__all__ = [
    "bxml_documents",
    "element_trees",
    "invalid_bxml_documents",
    "pad_to",
    "root_elements",
    "serialise",
]

#: Deepest SSML nesting generated below a SpeakSentence.
SSML_DEPTH = 3
#: At most this many children are generated where the grammar says "unbounded".
UNBOUNDED_CAP = 4
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_element_cache: dict[tuple[str, int], st.SearchStrategy[etree._Element]] = {}


def element_trees(name: str, depth: int = 0) -> st.SearchStrategy[etree._Element]:
    """Valid (to the XSD) lxml elements named ``name``, children included."""
    key = (name, depth)
    cached = _element_cache.get(key)
    if cached is None:
        cached = _build(grammar().element(name), depth)
        _element_cache[key] = cached
    return cached


def _build(decl: ElementDecl, depth: int) -> st.SearchStrategy[etree._Element]:
    required = [(a.name, value_strategy(a.type)) for a in decl.required_attributes]
    optional = sorted(a.name for a in decl.attributes if not a.required)
    optional_values = {a.name: value_strategy(a.type) for a in decl.attributes if not a.required}
    chosen_attributes = st.lists(st.sampled_from(optional), unique=True) if optional else st.just([])
    text_values = value_strategy(decl.text) if decl.text is not None else None
    children = _children_strategy(decl, depth)

    @st.composite
    def element(draw: st.DrawFn) -> etree._Element:
        node = etree.Element(decl.name)
        for attr_name, values in required:
            node.set(attr_name, draw(values))
        for attr_name in sorted(draw(chosen_attributes)):
            node.set(attr_name, draw(optional_values[attr_name]))
        if text_values is not None and decl.text is not None:
            if decl.requires_text or draw(st.booleans()):
                text = draw(text_values)
                if decl.text.collapses_whitespace and draw(_one_in_eight):
                    text = f"\n    {text}\n  "  # surrounding whitespace is collapsed away
                node.text = text
        elif decl.mixed:
            node.text = draw(_mixed_words)
        if children is not None:
            for child in draw(children):
                if decl.mixed:
                    child.tail = " " + draw(_tail_words)
                node.append(child)
        return node

    return element()


_one_in_eight = st.integers(0, 7).map(lambda n: n == 0)
_mixed_words = words(0, 6)
_tail_words = words(0, 4)


def _children_strategy(decl: ElementDecl, depth: int) -> st.SearchStrategy[list[etree._Element]] | None:
    if not decl.children:
        return None
    if decl.mixed:
        if depth >= SSML_DEPTH:
            return None
        options = st.deferred(lambda: st.one_of([element_trees(c, depth + 1) for c in decl.children]))
        return st.lists(options, max_size=2)
    high = decl.max_children if decl.max_children is not None else UNBOUNDED_CAP
    high = max(decl.min_children, min(high, decl.min_children + UNBOUNDED_CAP))
    options = st.deferred(lambda: st.one_of([element_trees(c, depth + 1) for c in decl.children]))
    return st.lists(options, min_size=decl.min_children, max_size=high)


def _repair(root: etree._Element) -> etree._Element:
    for rule in CODE_RULES:
        rule.repair(root)
    return root


def _check_verbs(context: str, verbs: Iterable[str] | None) -> tuple[str, ...]:
    allowed = allowed_verbs(check_context(context))
    if verbs is None:
        return allowed
    chosen = tuple(verbs)
    unknown = [v for v in chosen if v not in grammar().verbs]
    if unknown:
        raise BxmlArgumentError(f"not BXML verbs: {', '.join(unknown)}", reason="unknown-verb")
    forbidden = [v for v in chosen if v not in allowed]
    if forbidden:
        message = f"not allowed in {context} BXML: {', '.join(forbidden)}"
        raise BxmlArgumentError(message, reason="verb-not-in-context")
    if not chosen:
        raise BxmlArgumentError("verbs must name at least one verb", reason="no-verbs")
    return chosen


def root_elements(
    context: str = "call", verbs: Iterable[str] | None = None, *, max_verbs: int = 6
) -> st.SearchStrategy[etree._Element]:
    """Valid root elements (``<Response>`` or ``<Bxml>``) holding verbs of ``context``."""
    chosen = _check_verbs(context, verbs)
    verb_lists = st.lists(st.one_of([element_trees(v, 1) for v in chosen]), max_size=max_verbs)
    root_names = st.sampled_from(grammar().roots)

    @st.composite
    def root(draw: st.DrawFn) -> etree._Element:
        node = etree.Element(draw(root_names))
        for child in draw(verb_lists):
            node.append(child)
        return _repair(node)

    return root()


def serialise(root: etree._Element, *, declaration: bool = True, pretty: bool = False) -> str:
    text = etree.tostring(root, encoding="unicode", pretty_print=pretty)
    assert isinstance(text, str)
    return (_DECLARATION if declaration else "") + text


def pad_to(document: str, size: int) -> str:
    """``document`` grown to exactly ``size`` UTF-8 bytes by a comment before the root element."""
    missing = size - len(document.encode("utf-8"))
    if missing < 7:
        return document
    comment = "<!--" + "p" * (missing - 7) + "-->"
    if document.startswith(_DECLARATION):
        return _DECLARATION + comment + document[len(_DECLARATION) :]
    return comment + document


def bxml_documents(
    context: str = "call", verbs: Iterable[str] | None = None, *, max_verbs: int = 6
) -> st.SearchStrategy[str]:
    """Valid BXML documents (str) for ``context``, optionally built only from ``verbs``.

    Values are realistic (E.164 numbers, URLs, SSML) with edges on purpose (range bounds, the
    longest allowed texts, empty optional text); about one document in thirty-two is padded with a
    comment to 64 KB minus one byte, the largest size allowed.
    """

    roots = root_elements(context, verbs, max_verbs=max_verbs)
    flags = st.tuples(st.booleans(), st.booleans(), st.integers(0, 31))

    @st.composite
    def document(draw: st.DrawFn) -> str:
        root = draw(roots)
        declaration, pretty, pad = draw(flags)
        text = serialise(root, declaration=declaration, pretty=pretty)
        if pad == 11:
            text = pad_to(text, MAX_DOCUMENT_BYTES - 1)
        return text

    return document()


def invalid_bxml_documents(
    context: str = "call", rules: Iterable[str] | None = None
) -> st.SearchStrategy[tuple[str, str]]:
    """``(document, rule)``: a valid document broken by the named mutation ``rule``."""
    from conformance.bxml.mutations import invalid_documents

    return invalid_documents(context, rules)
