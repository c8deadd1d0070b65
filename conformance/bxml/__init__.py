"""BXML: parse safely, validate against ``xsd/bxml.xsd`` plus the rules XSD cannot say, explain.

>>> from conformance.bxml import iter_errors
>>> [e.rule for e in iter_errors('<Response><Pause duration="0"/></Response>')]
['attribute-range']

``conformance.bxml.strategies`` (imported separately, it needs hypothesis) generates valid and
deliberately broken documents from the same grammar.
"""

from __future__ import annotations

from conformance.bxml.errors import (
    BxmlArgumentError,
    BxmlError,
    BxmlValidationError,
    DocumentTypeError,
    GrammarError,
    UnknownContextError,
)
from conformance.bxml.grammar import grammar
from conformance.bxml.parsing import MAX_DEPTH, MAX_DOCUMENT_BYTES, element_path, parse
from conformance.bxml.rules import CODE_RULES, CONTEXTS, allowed_verbs
from conformance.bxml.validator import is_valid, iter_errors, validate

#: Every BXML verb (the elements a <Response> may hold), read from the grammar.
VERBS: tuple[str, ...] = grammar().verbs
#: The two root elements: <Response> (documented) and <Bxml> (SDKs).
ROOTS: tuple[str, ...] = grammar().roots

#: Every rule name iter_errors can report.
RULES: tuple[str, ...] = (
    "document-too-large",
    "invalid-encoding",
    "forbidden-dtd",
    "malformed-xml",
    "too-deep",
    "wrong-root",
    "unknown-element",
    "forbidden-child",
    "too-many-children",
    "too-few-children",
    "unexpected-text",
    "unknown-attribute",
    "missing-attribute",
    "attribute-value",
    "attribute-range",
    "missing-text",
    "text-value",
    *(rule.name for rule in CODE_RULES if rule.name != "missing-text"),
)

#: Rules that come from documentation prose or from this project's own safety limits, whose
#: enforcement by the live API is not confirmed: a platform may accept such a document (it may
#: ignore the attribute instead).  Conformance suites that expect a rejection should skip these.
ADVISORY_RULES: frozenset[str] = frozenset(
    {
        "too-deep",
        "diversion-reason-without-stack",
        "stabilized-without-destination",
        "credentials-need-https",
        "start-gather-with-forward",
    }
)


def first_blocking_error(document: str | bytes, context: str = "call") -> BxmlError | None:
    """The first error of ``document`` that is not advisory, or ``None``.

    What a platform that enforces only confirmed rules would refuse the document for; the
    simulator uses it.  (``ADVISORY_RULES`` problems are still errors to :func:`iter_errors`.)
    """
    return next((e for e in iter_errors(document, context) if e.rule not in ADVISORY_RULES), None)


__all__ = [
    "ADVISORY_RULES",
    "CODE_RULES",
    "CONTEXTS",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "ROOTS",
    "RULES",
    "VERBS",
    "BxmlArgumentError",
    "BxmlError",
    "BxmlValidationError",
    "DocumentTypeError",
    "GrammarError",
    "UnknownContextError",
    "allowed_verbs",
    "element_path",
    "first_blocking_error",
    "is_valid",
    "iter_errors",
    "parse",
    "validate",
]
