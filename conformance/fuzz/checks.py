"""What a voice app's reply to one webhook must satisfy (issue 6 §2).

Each check has a name that findings and reports use:

``connection_error``  the app could not be reached, or dropped the connection
``timeout``           no reply within the callback timeout
``server_error``      a 5xx reply
``status``            any other reply that is not 2xx
``empty_reply``       an event that expects BXML got an empty body where the docs allow none
``invalid_bxml``      the body is not valid BXML in the event's context (call, conference,
                      transferAnswer)

Events that take no BXML pass with any 2xx; their body is ignored, as the platform ignores it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from conformance.fuzz.targets import Exchange
from conformance.webhooks.events import EventType

CHECKS: dict[str, str] = {
    "connection_error": "the app accepts the connection and answers",
    "timeout": "the reply arrives within the callback timeout",
    "server_error": "no 5xx reply",
    "status": "a 2xx reply",
    "empty_reply": "a BXML event gets BXML (an empty reply only where the docs allow it)",
    "invalid_bxml": "the BXML is valid in the event's context",
}


@dataclass(frozen=True)
class BxmlProblem:
    """One BXML error, copied out of the validator's error object."""

    rule: str
    message: str
    line: int | None = None
    path: str | None = None

    @classmethod
    def from_error(cls, error: Any) -> BxmlProblem:
        line = getattr(error, "line", None)
        path = getattr(error, "path", None)
        return cls(
            rule=str(getattr(error, "rule", "bxml")),
            message=str(getattr(error, "message", error)),
            line=line if isinstance(line, int) else None,
            path=None if path is None else str(path),
        )

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        at = f" at {self.path}" if self.path else ""
        return f"[{self.rule}]{where}{at}: {self.message}"


BxmlValidator = Callable[[bytes, str], Iterable[BxmlProblem]]


def default_bxml_validator(document: bytes, context: str) -> list[BxmlProblem]:
    """The project's BXML validator (``conformance.bxml.iter_errors``)."""
    from conformance import bxml

    return [BxmlProblem.from_error(error) for error in bxml.iter_errors(document, context=context)]


@dataclass(frozen=True)
class Problem:
    """A failed check for one exchange."""

    check: str
    message: str
    bxml: tuple[BxmlProblem, ...] = ()


def check_exchange(
    event: EventType,
    exchange: Exchange,
    *,
    callback_timeout: float,
    bxml_validator: BxmlValidator = default_bxml_validator,
) -> Problem | None:
    """The first check ``exchange`` fails, or ``None`` when the reply is acceptable."""
    if exchange.error == "connection":
        return Problem("connection_error", exchange.detail or "connection failed")
    if exchange.error == "timeout" or exchange.elapsed > callback_timeout:
        return Problem(
            "timeout",
            exchange.detail
            or f"replied after {exchange.elapsed:.2f} s, over the {callback_timeout:g} s timeout",
        )
    status = exchange.status or 0
    if status >= 500:
        return Problem("server_error", f"HTTP {status} to {event.name}")
    if not 200 <= status < 300:
        return Problem("status", f"HTTP {status} to {event.name}; the platform needs a 2xx reply")
    if event.bxml_context is None:
        return None
    if not exchange.body.strip():
        if event.empty_reply_allowed:
            return None
        return Problem(
            "empty_reply",
            f"{event.name} expects {event.bxml_context} BXML, got an empty HTTP {status} reply",
        )
    problems = tuple(bxml_validator(exchange.body, event.bxml_context))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Problem("invalid_bxml", f"invalid {event.bxml_context} BXML: {first}{more}", problems)
    return None


__all__ = [
    "CHECKS",
    "BxmlProblem",
    "BxmlValidator",
    "Problem",
    "check_exchange",
    "default_bxml_validator",
]
