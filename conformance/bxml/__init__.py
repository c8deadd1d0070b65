"""BXML: parse safely, validate against ``xsd/bxml.xsd`` plus the rules XSD cannot say, explain.

>>> from conformance.bxml import iter_errors
>>> [e.rule for e in iter_errors('<Response><Pause duration="0"/></Response>')]
['attribute-range']

Problems are errors (the platform refuses the document: ``iter_errors``) or warnings (it is
accepted, probably not as meant: ``conformance.bxml.iter_warnings``);
``conformance.bxml.iter_problems`` yields both, each with its ``severity``, and
``conformance.bxml.RULE_TABLE`` gives every rule's severity and the fact behind it.

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
from conformance.bxml.rules import CODE_RULES, CONTEXTS, RULE_TABLE, WARNING_RULES, allowed_verbs
from conformance.bxml.validator import is_valid, iter_errors, iter_problems, iter_warnings, validate

#: Every BXML verb (the elements a <Response> may hold), read from the grammar.
VERBS: tuple[str, ...] = grammar().verbs
#: The two root elements: <Response> (documented) and <Bxml> (SDKs).
ROOTS: tuple[str, ...] = grammar().roots

#: Every rule name the validator can report (errors and warnings), from the rule table.
RULES: tuple[str, ...] = tuple(fact.name for fact in RULE_TABLE)

#: The rules whose problems are warnings: the platform accepts such a document (it ignores the
#: attribute, or the documented requirement is not known to be enforced).  ``iter_errors`` never
#: yields them; conformance suites never demand a rejection for them.  (Formerly "advisory".)
ADVISORY_RULES: frozenset[str] = WARNING_RULES


def first_blocking_error(document: str | bytes, context: str = "call") -> BxmlError | None:
    """The first error of ``document`` (what the platform refuses it for), or ``None``.

    The simulator uses it.  Warnings never block; errors include this project's safety limits
    (``too-deep``, ``forbidden-dtd``), so the simulator refuses what it could not run safely.
    """
    return next(iter_errors(document, context), None)


__all__ = [
    "ADVISORY_RULES",
    "CODE_RULES",
    "CONTEXTS",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "ROOTS",
    "RULES",
    "RULE_TABLE",
    "VERBS",
    "WARNING_RULES",
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
    "iter_problems",
    "iter_warnings",
    "parse",
    "validate",
]
