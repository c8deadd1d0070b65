"""Scripted replies and faults of a sink scope.

A rule answers an event type (or every event, ``event=None``), optionally only for one call id, a
number of times (``times=None``: for ever).  For one (event, call id), rules with ``times`` are used
first, in the order they were added (a queue, as pytest-httpserver serves one-shot handlers before
permanent ones); then the permanent rule added last (scripting again overrides).  Lookup goes from
the most specific key to the least: (event, call id), (event, any call), (any event, call id),
(any event, any call).  Faults are looked up before replies.

When no rule applies, the **default reply** keeps the behaviour explicit:

* an event that takes BXML gets ``200`` with ``<Response><Hangup/></Response>``: an unscripted
  BXML webhook ends the call visibly, in the document, rather than through the platform's
  implicit hang-up at the end of an empty document;
* a conference event whose contract allows an empty reply gets ``204`` (conference BXML has no
  ``<Hangup>``), as does every event that takes no BXML and every event unknown to the contract.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from conformance.errors import ConformanceError
from conformance.webhooks.events import EventType

BXML_CONTENT_TYPE = "application/xml; charset=utf-8"
DEFAULT_BXML = b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Hangup/></Response>'


class ScriptError(ConformanceError, ValueError):
    """A reply or fault was scripted with arguments that cannot work."""

    reason = "bad-script"


@dataclass(frozen=True)
class Reply:
    """An HTTP reply to a webhook."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = BXML_CONTENT_TYPE
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def bxml(cls, document: str | bytes, status: int = 200) -> Reply:
        body = document.encode("utf-8") if isinstance(document, str) else document
        return cls(status=status, body=body, content_type=BXML_CONTENT_TYPE)

    @classmethod
    def empty(cls, status: int = 204) -> Reply:
        return cls(status=status, body=b"", content_type=None)


ReplyBody: TypeAlias = str | bytes | Reply
ReplyFunction: TypeAlias = Callable[[dict[str, Any]], ReplyBody | None]
ReplySpec: TypeAlias = ReplyBody | ReplyFunction


@dataclass(frozen=True)
class Fault:
    """A failure played on purpose: an error status, a delay before answering, a dropped connection."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False


@dataclass
class _Rule:
    action: ReplySpec | Fault
    remaining: int | None


def default_reply(event: EventType | None) -> Reply:
    """The reply sent when nothing was scripted (see the module docstring)."""
    if event is None or not event.expects_bxml or event.empty_reply_allowed:
        return Reply.empty()
    return Reply.bxml(DEFAULT_BXML)


def render(spec: ReplySpec, payload: Mapping[str, Any]) -> Reply | None:
    """The reply a spec gives for ``payload``; ``None`` when a function declines (default reply)."""
    value = spec(dict(payload)) if callable(spec) else spec
    if value is None:
        return None
    if isinstance(value, Reply):
        return value
    if isinstance(value, str | bytes):
        return Reply.bxml(value)
    raise ScriptError(f"a reply function returned {type(value).__name__}; expected str, bytes, Reply or None")


def _check_status(status: int) -> None:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ScriptError(f"status must be an HTTP status code 100-599, not {status!r}")


class Script:
    """The rules of one scope.  Not locked: the sink calls it under its own lock."""

    def __init__(self, catalogue: Mapping[str, EventType]) -> None:
        self._catalogue = catalogue
        self._faults: dict[tuple[str | None, str | None], deque[_Rule]] = {}
        self._replies: dict[tuple[str | None, str | None], deque[_Rule]] = {}

    def _check_key(self, event: str | None, call_id: str | None, times: int | None) -> None:
        if event is not None and event not in self._catalogue:
            known = ", ".join(sorted(self._catalogue))
            raise ScriptError(f"unknown webhook event {event!r}; known: {known}")
        if call_id is not None and (not isinstance(call_id, str) or not call_id):
            raise ScriptError(f"call_id must be a non-empty string, not {call_id!r}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ScriptError(f"times must be a positive integer or None, not {times!r}")

    def add_reply(self, event: str | None, spec: ReplySpec, call_id: str | None, times: int | None) -> None:
        self._check_key(event, call_id, times)
        if isinstance(spec, Reply):
            _check_status(spec.status)
        elif not (isinstance(spec, str | bytes) or callable(spec)):
            raise ScriptError(f"a reply is str, bytes, Reply or a function, not {type(spec).__name__}")
        self._replies.setdefault((event, call_id), deque()).append(_Rule(spec, times))

    def add_fault(
        self,
        event: str | None,
        fault: Fault,
        call_id: str | None,
        times: int | None,
    ) -> None:
        self._check_key(event, call_id, times)
        if fault.status is None and not fault.drop and fault.delay == 0:
            raise ScriptError("a fault needs status=, delay= or drop=True")
        if fault.status is not None and fault.drop:
            raise ScriptError("a dropped connection sends no status: give status= or drop=True, not both")
        if fault.status is not None:
            _check_status(fault.status)
        if isinstance(fault.delay, bool) or not isinstance(fault.delay, int | float):
            raise ScriptError(f"delay must be a number of seconds, not {fault.delay!r}")
        if not math.isfinite(fault.delay) or fault.delay < 0:
            raise ScriptError(f"delay must be finite and >= 0, not {fault.delay!r}")
        self._faults.setdefault((event, call_id), deque()).append(_Rule(fault, times))

    @staticmethod
    def _take(
        rules: dict[tuple[str | None, str | None], deque[_Rule]],
        event: str | None,
        call_id: str | None,
    ) -> ReplySpec | Fault | None:
        keys = [(event, call_id), (event, None), (None, call_id), (None, None)]
        for key in dict.fromkeys(keys):
            if key[0] is not None and event is None:
                continue
            queue = rules.get(key)
            if not queue:
                continue
            rule = next((r for r in queue if r.remaining is not None), None)
            if rule is None:
                return queue[-1].action  # only permanent rules left: the latest one
            assert rule.remaining is not None
            rule.remaining -= 1
            if rule.remaining == 0:
                queue.remove(rule)
            return rule.action
        return None

    def take_fault(self, event: str | None, call_id: str | None) -> Fault | None:
        action = self._take(self._faults, event, call_id)
        return action if isinstance(action, Fault) else None

    def take_reply(self, event: str | None, call_id: str | None) -> ReplySpec | None:
        action = self._take(self._replies, event, call_id)
        return None if isinstance(action, Fault) else action


__all__ = [
    "BXML_CONTENT_TYPE",
    "DEFAULT_BXML",
    "Fault",
    "Reply",
    "ReplyBody",
    "ReplyFunction",
    "ReplySpec",
    "Script",
    "ScriptError",
    "default_reply",
    "render",
]
