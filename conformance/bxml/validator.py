"""The validation primitives: :func:`iter_problems` (errors and warnings, each with its
``severity``), :func:`iter_errors` (errors only: what makes the platform refuse a document),
:func:`iter_warnings`, and :func:`validate` / :func:`is_valid` over them.

Every call takes bounded time on any input the size limit lets through: at most
:data:`MAX_REPORTED` problems are listed, and one closing ``too-many-problems`` error counts the
rest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError, BxmlValidationError
from conformance.bxml.grammar import grammar
from conformance.bxml.parsing import element_path, parse
from conformance.bxml.rules import (
    Finding,
    check_context,
    check_rules,
    finding_error,
    is_error_rule,
    rule_findings,
)
from conformance.bxml.schema import schema_errors, schema_valid

__all__ = ["MAX_REPORTED", "is_valid", "iter_errors", "iter_problems", "iter_warnings", "validate"]

#: Most problems listed for one document (errors and warnings together).
MAX_REPORTED = 100

_ROOTS = frozenset(grammar().roots)


def iter_problems(document: str | bytes, context: str = "call") -> Iterator[BxmlError]:
    """Yield every problem in ``document`` as BXML of ``context``, errors and warnings alike.

    Each carries its ``severity``.  ``context`` is ``"call"`` (every verb), ``"conference"`` or
    ``"transferAnswer"``; any other raises
    :class:`~conformance.bxml.errors.UnknownContextError` (a ``ValueError``) at once.  Parse-level
    problems (size, encoding, DTD, well-formedness, depth) end the list; after that come grammar
    (XSD) problems, then the rules XSD cannot say.  For any ``str`` or ``bytes`` this yields
    :class:`BxmlError` records and raises nothing (any other type of ``document`` raises
    :class:`~conformance.bxml.errors.DocumentTypeError` at once).  The document is parsed and
    checked when this is called; paths of rule problems are found as they are taken.
    """
    check_context(context)
    problems = _problems(document, context)
    return iter(()) if problems is None else problems


def iter_errors(document: str | bytes, context: str = "call") -> Iterator[BxmlError]:
    """Yield the errors of ``document``: the problems for which the platform refuses it.

    Warnings (see :func:`iter_warnings`) are left out.  Same order and contract as
    :func:`iter_problems`.
    """
    check_context(context)
    problems = _problems(document, context)
    if problems is None:  # the usual answer, so given without a generator
        return iter(())
    return (error for error in problems if error.severity == "error")


def iter_warnings(document: str | bytes, context: str = "call") -> Iterator[BxmlError]:
    """Yield the warnings of ``document``: problems the platform accepts (an ignored attribute, a
    documented requirement whose enforcement is not confirmed).  A document that cannot be parsed
    has no warnings, only errors."""
    check_context(context)
    problems = _problems(document, context)
    if problems is None:
        return iter(())
    return (error for error in problems if error.severity == "warning")


def _problems(document: str | bytes, context: str) -> Iterator[BxmlError] | None:
    """The problems of ``document`` in report order, or ``None`` when it has none (the usual
    case, so the one kept cheapest).  Everything up to the rules' paths runs when this is called,
    except the rules of a document with grammar problems: they wait until those are taken."""
    try:
        root = parse(document)
    except BxmlValidationError as exc:
        return iter(exc.errors)
    if root.tag not in _ROOTS:
        error = BxmlError(
            rule="wrong-root",
            path=element_path(root),
            line=root.sourceline,
            message=f"root element is <{root.tag}>; BXML documents start with "
            + " or ".join(f"<{name}>" for name in grammar().roots),
        )
        return iter((error,))
    listed, unlisted_errors = schema_errors(root, MAX_REPORTED)
    if listed or unlisted_errors:  # the rules wait until the grammar problems have been taken
        return _listed(listed, unlisted_errors, root, context, None)
    found = rule_findings(root, context)
    if not (found[0] or found[1]):
        return None
    return _listed(listed, unlisted_errors, root, context, found)


def _listed(
    listed: list[BxmlError],
    unlisted_errors: int,
    root: etree._Element,
    context: str,
    found: tuple[list[Finding], list[Finding]] | None,
) -> Iterator[BxmlError]:
    """The problems in report order: grammar (``listed``), then rules (``found``, or looked for
    once ``listed`` is taken), the first ``MAX_REPORTED`` listed with their paths and the rest
    counted, then ``too-many-problems`` if any went unlisted."""
    yield from listed
    first, later = rule_findings(root, context) if found is None else found
    room = MAX_REPORTED - len(listed)
    unlisted_warnings = 0
    # Only the listed findings become errors (with paths); the rest are counted by severity, so that
    # thousands of them cost a dictionary look-up each.
    for finding in itertools.chain(first, later):
        if room > 0:
            room -= 1
            yield finding_error(finding)
        elif is_error_rule(finding[0]):
            unlisted_errors += 1
        else:
            unlisted_warnings += 1
    if unlisted_errors or unlisted_warnings:
        # An error when an error went unlisted; otherwise the document is still valid.
        yield BxmlError(
            rule="too-many-problems",
            path="",
            line=None,
            message=f"{unlisted_errors + unlisted_warnings} more problem(s) not listed "
            f"({unlisted_errors} error(s)); the first {MAX_REPORTED} are",
            severity="error" if unlisted_errors else "warning",
        )


def validate(document: str | bytes, context: str = "call") -> None:
    """Raise :class:`BxmlValidationError` listing every error, or return if there are none.

    Warnings do not make a document invalid.
    """
    errors = list(iter_errors(document, context))
    if errors:
        raise BxmlValidationError(errors)


def is_valid(document: str | bytes, context: str = "call") -> bool:
    """``True`` when ``document`` has no error as BXML of ``context`` (warnings allowed).

    The same answer as ``not any(iter_errors(document, context))``, reached without building
    explanations: an invalid document never loads xmlschema here.
    """
    check_context(context)
    try:
        root = parse(document)
    except BxmlValidationError:
        return False
    if root.tag not in _ROOTS or not schema_valid(root):
        return False
    return not any(error.severity == "error" for error in check_rules(root, context, 0))
