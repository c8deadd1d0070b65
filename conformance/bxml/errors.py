"""What BXML validation reports: :class:`BxmlError` records and the exceptions that carry them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from conformance.errors import ConformanceError

__all__ = [
    "BxmlArgumentError",
    "BxmlError",
    "BxmlValidationError",
    "DocumentTypeError",
    "GrammarError",
    "Severity",
    "UnknownContextError",
]


#: ``error``: the platform refuses the document.  ``warning``: it is accepted, but probably does not
#: do what its author meant (an attribute that is ignored, a documented "must" whose enforcement is
#: not confirmed).  Each rule's severity and the fact behind it: ``conformance.bxml.rules.RULE_TABLE``.
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class BxmlError:
    """One problem in a BXML document.

    ``rule`` is a stable kebab-case name (``attribute-range``, ``context-forbidden`` ...), ``path``
    the element path with 1-based indexes among same-named siblings (``/Response/Gather[1]``;
    empty when the document could not be parsed), ``line`` the 1-based source line when known,
    ``severity`` ``"error"`` (the platform refuses the document) or ``"warning"`` (accepted).
    """

    rule: str
    path: str
    line: int | None
    message: str
    severity: Severity = "error"

    @property
    def reason(self) -> str:
        """The rule name (the ``reason`` every error of the project carries)."""
        return self.rule

    @property
    def sourceline(self) -> int | None:
        """The line, under the name lxml and xmlschema use."""
        return self.line

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "document"
        at = f" (at {self.path})" if self.path else ""
        kind = "warning: " if self.severity == "warning" else ""
        return f"{where}: {kind}{self.rule}: {self.message}{at}"


class BxmlValidationError(ConformanceError, ValueError):
    """A BXML document is invalid (or could not be parsed safely).

    ``errors`` lists every problem found; ``rule``/``path``/``line`` are those of the first, and
    ``reason`` is the first rule name.
    """

    reason = "invalid-bxml"

    def __init__(self, errors: Sequence[BxmlError]) -> None:
        if not errors:
            raise ValueError("BxmlValidationError needs at least one BxmlError")
        self.errors: tuple[BxmlError, ...] = tuple(errors)
        first = self.errors[0]
        self.rule = first.rule
        self.path = first.path
        self.line = first.line
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first}{more}", reason=first.rule)


class UnknownContextError(ConformanceError, ValueError):
    """The BXML context named is not one of ``call``, ``conference``, ``transferAnswer``."""

    reason = "unknown-context"


class DocumentTypeError(ConformanceError, TypeError):
    """A document was neither ``str`` nor ``bytes``."""

    reason = "document-type"


class BxmlArgumentError(ConformanceError, ValueError):
    """A generator was asked for something the grammar cannot give (``reason`` says what)."""

    reason = "bad-argument"


class GrammarError(ConformanceError, ValueError):
    """The XSD uses a construct outside the conventions ``conformance.bxml.grammar`` reads."""

    reason = "grammar"
