"""The validation primitive :func:`iter_errors`, and :func:`validate` / :func:`is_valid` over it."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.bxml.errors import BxmlError, BxmlValidationError
from conformance.bxml.grammar import grammar
from conformance.bxml.parsing import element_path, parse
from conformance.bxml.rules import check_context, check_rules
from conformance.bxml.schema import lxml_schema, schema_errors

__all__ = ["is_valid", "iter_errors", "validate"]

_ROOTS = frozenset(grammar().roots)


def iter_errors(document: str | bytes, context: str = "call") -> Iterator[BxmlError]:
    """Yield every problem in ``document`` as BXML of ``context``, in a stable order.

    ``context`` is ``"call"`` (every verb), ``"conference"`` or ``"transferAnswer"``; any other
    raises :class:`~conformance.bxml.errors.UnknownContextError` (a ``ValueError``) at once.
    Parse-level problems (size, encoding, DTD, well-formedness, depth) end the list; after
    that come grammar (XSD) problems, then the rules XSD cannot say.
    """
    check_context(context)
    return _iter_errors(document, context)


def _iter_errors(document: str | bytes, context: str) -> Iterator[BxmlError]:
    try:
        root = parse(document)
    except BxmlValidationError as exc:
        yield from exc.errors
        return
    roots = _ROOTS
    if root.tag not in roots:
        yield BxmlError(
            rule="wrong-root",
            path=element_path(root),
            line=root.sourceline,
            message=f"root element is <{root.tag}>; BXML documents start with "
            + " or ".join(f"<{name}>" for name in grammar().roots),
        )
        return
    yield from schema_errors(root)
    yield from check_rules(root, context)


def validate(document: str | bytes, context: str = "call") -> None:
    """Raise :class:`BxmlValidationError` listing every problem, or return if there are none."""
    errors = list(iter_errors(document, context))
    if errors:
        raise BxmlValidationError(errors)


def is_valid(document: str | bytes, context: str = "call") -> bool:
    """``True`` when ``document`` has no problem at all as BXML of ``context``.

    The same answer as ``not any(iter_errors(document, context))``, reached without building
    explanations: an invalid document never loads xmlschema here.
    """
    check_context(context)
    try:
        root = parse(document)
    except BxmlValidationError:
        return False
    if root.tag not in _ROOTS or not lxml_schema().validate(root):
        return False
    return not any(check_rules(root, context))
