"""Scripted replies and faults of a sink scope.

A rule answers an event type (or every event, ``event=None``), optionally only for one call id
and/or one path (the URL after the scope prefix: a primary URL can fail while its fallback answers),
a number of times (``times=None``: for ever).  The most specific matching rules win: a path counts
more than an event, an event more than a call id.  Among equally specific rules, those with
``times`` are used first, in the order they were added (a queue, as pytest-httpserver serves
one-shot handlers before permanent ones); then the permanent rule added last (scripting again
overrides).  Faults are looked up before replies.

When no rule applies, the **default reply** keeps the behaviour explicit:

* an event that takes BXML gets ``200`` with ``<Response><Hangup/></Response>``: an unscripted
  BXML webhook ends the call visibly, in the document, rather than through the platform's
  implicit hang-up at the end of an empty document;
* a conference event whose contract allows an empty reply gets ``204`` (conference BXML has no
  ``<Hangup>``), as does every event that takes no BXML and every event unknown to the contract.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class RuleKey:
    """What a rule applies to; ``None`` matches anything.  ``path`` is the part of the URL after the
    scope prefix (``scope.url("fallback")`` -> ``"fallback"``)."""

    event: str | None = None
    call_id: str | None = None
    path: str | None = None

    @property
    def specificity(self) -> int:
        return (
            (4 if self.path is not None else 0)
            + (2 if self.event is not None else 0)
            + (1 if self.call_id is not None else 0)
        )

    def matches(self, event: str | None, call_id: str | None, path: str) -> bool:
        return (
            (self.event is None or self.event == event)
            and (self.call_id is None or self.call_id == call_id)
            and (self.path is None or self.path == path)
        )


@dataclass
class _Rule:
    key: RuleKey
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
        self._faults: list[_Rule] = []
        self._replies: list[_Rule] = []

    def _check_key(self, key: RuleKey, times: int | None) -> None:
        if key.event is not None and key.event not in self._catalogue:
            known = ", ".join(sorted(self._catalogue))
            raise ScriptError(f"unknown webhook event {key.event!r}; known: {known}")
        if key.call_id is not None and (not isinstance(key.call_id, str) or not key.call_id):
            raise ScriptError(f"call_id must be a non-empty string, not {key.call_id!r}")
        if key.path is not None and not isinstance(key.path, str):
            raise ScriptError(f"path must be a string, not {key.path!r}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ScriptError(f"times must be a positive integer or None, not {times!r}")

    def add_reply(self, key: RuleKey, spec: ReplySpec, times: int | None) -> None:
        self._check_key(key, times)
        if isinstance(spec, Reply):
            _check_status(spec.status)
        elif not (isinstance(spec, str | bytes) or callable(spec)):
            raise ScriptError(f"a reply is str, bytes, Reply or a function, not {type(spec).__name__}")
        self._replies.append(_Rule(key, spec, times))

    def add_fault(self, key: RuleKey, fault: Fault, times: int | None) -> None:
        self._check_key(key, times)
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
        self._faults.append(_Rule(key, fault, times))

    @staticmethod
    def _take(
        rules: list[_Rule], event: str | None, call_id: str | None, path: str
    ) -> ReplySpec | Fault | None:
        matching = [rule for rule in rules if rule.key.matches(event, call_id, path)]
        if not matching:
            return None
        best = max(rule.key.specificity for rule in matching)
        tier = [rule for rule in matching if rule.key.specificity == best]
        counted = next((rule for rule in tier if rule.remaining is not None), None)
        if counted is None:
            return tier[-1].action  # only permanent rules: the latest one
        assert counted.remaining is not None
        counted.remaining -= 1
        if counted.remaining == 0:
            rules.remove(counted)
        return counted.action

    def take_fault(self, event: str | None, call_id: str | None, path: str) -> Fault | None:
        action = self._take(self._faults, event, call_id, path)
        return action if isinstance(action, Fault) else None

    def take_reply(self, event: str | None, call_id: str | None, path: str) -> ReplySpec | None:
        action = self._take(self._replies, event, call_id, path)
        return None if isinstance(action, Fault) else action


__all__ = [
    "BXML_CONTENT_TYPE",
    "DEFAULT_BXML",
    "Fault",
    "Reply",
    "ReplyBody",
    "ReplyFunction",
    "ReplySpec",
    "RuleKey",
    "Script",
    "ScriptError",
    "default_reply",
    "render",
]
