"""A sink scope: one test's path prefix, its scripted replies and faults, what it received.

Scopes are made by :meth:`WebhookSink.scope <conformance.webhooks.sink.WebhookSink.scope>`; they
share the sink's lock, so every method is safe to call while webhooks arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Self

from conformance.errors import ConfigurationError, ConformanceError
from conformance.webhooks.expectations import Flow
from conformance.webhooks.records import Webhook
from conformance.webhooks.script import Fault, ReplySpec, RuleKey, Script

if TYPE_CHECKING:
    from conformance.webhooks.sink import WebhookSink

SCOPE_ROOT = "/s/"


class WebhookTimeout(ConformanceError, TimeoutError):
    """``wait_for`` gave up; the message lists what the scope did receive."""

    reason = "webhook-timeout"


class WebhookProblems(ConformanceError, AssertionError):
    """Webhooks arrived that break the contract (or arrived where no scope expects them)."""

    reason = "webhook-problems"

    def __init__(self, message: str, webhooks: Iterable[Webhook]) -> None:
        super().__init__(message)
        self.webhooks = tuple(webhooks)


def problems_text(webhooks: Iterable[Webhook]) -> str:
    lines: list[str] = []
    for webhook in webhooks:
        lines.append(webhook.describe())
        lines.extend(f"    - {problem}" for problem in webhook.problems)
    return "\n".join(lines)


class SinkScope:
    """One test's corner of the sink: its path prefix, its script and what it received."""

    def __init__(self, sink: WebhookSink, key: str, name: str | None) -> None:
        self.sink = sink
        self.key = key
        self.name = name
        self.prefix = f"{SCOPE_ROOT}{key}/" if key else "/"
        self._script = Script(sink.catalogue)
        self._received: list[Webhook] = []
        self._errors: list[BaseException] = []

    def __repr__(self) -> str:
        return f"<SinkScope {self.prefix} received={len(self._received)}>"

    def url(self, event_or_path: str = "") -> str:
        """The absolute URL to hand to the target (e.g. ``scope.url("answer")``)."""
        return self.sink.base_url + self.prefix + event_or_path.lstrip("/")

    # -- scripting -------------------------------------------------------------------------------
    def reply(
        self,
        event: str | None,
        body: ReplySpec,
        *,
        call_id: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> Self:
        """Answer ``event`` (``None``: any event) with BXML text, a :class:`Reply` or a function of the
        payload returning one (or ``None`` for the default reply); ``call_id`` and ``path`` (the URL
        after the scope prefix) narrow the rule; ``times`` uses, then the next rule."""
        with self.sink.lock:
            self._script.add_reply(RuleKey(event, call_id, _path(path)), body, times)
        return self

    def reply_sequence(
        self,
        event: str | None,
        bodies: Iterable[ReplySpec],
        *,
        call_id: str | None = None,
        path: str | None = None,
    ) -> Self:
        """Queue one reply per webhook, used in order; afterwards earlier rules or the default apply."""
        with self.sink.lock:
            for body in bodies:
                self._script.add_reply(RuleKey(event, call_id, _path(path)), body, 1)
        return self

    def fault(
        self,
        event: str | None,
        *,
        status: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        call_id: str | None = None,
        path: str | None = None,
    ) -> Self:
        """Fail on purpose: answer ``status`` with an empty body, wait ``delay`` seconds first (then
        answer normally unless a status or drop is given), or close the connection without a reply."""
        fault = Fault(status=status, delay=delay, drop=drop)
        with self.sink.lock:
            self._script.add_fault(RuleKey(event, call_id, _path(path)), fault, times)
        return self

    # -- what arrived ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[Webhook]:
        """Every request of this scope, in order of arrival."""
        with self.sink.lock:
            return list(self._received)

    def events(
        self, event: str | None = None, call_id: str | None = None, *, path: str | None = None
    ) -> list[Webhook]:
        """The webhooks of one event type, one call and/or one path, in order of arrival."""
        wanted = _path(path)
        return [w for w in self.requests if _selects(w, event, call_id, None, wanted)]

    def wait_for(
        self,
        event: str | None,
        call_id: str | None = None,
        timeout: float = 10.0,
        predicate: Callable[[Webhook], bool] | None = None,
        *,
        path: str | None = None,
        after: Webhook | None = None,
    ) -> Webhook:
        """The first webhook (arrived after ``after``, when given) matching the filters; blocks until
        one arrives or ``timeout`` seconds pass, then raises :class:`WebhookTimeout`."""
        if timeout < 0:
            raise ConfigurationError(f"timeout must be >= 0, not {timeout!r}")
        floor = after.seq if after is not None else 0
        wanted_path = _path(path)

        def first() -> Webhook | None:
            later = (w for w in self._received if w.seq > floor)
            return next((w for w in later if _selects(w, event, call_id, predicate, wanted_path)), None)

        with self.sink.condition:
            found = self.sink.condition.wait_for(first, timeout=timeout)
            if found is not None:
                return found
            received = list(self._received)
        wanted = event or "any event"
        wanted += f" for callId {call_id}" if call_id else ""
        wanted += f" on path {wanted_path!r}" if wanted_path is not None else ""
        wanted += " matching the predicate" if predicate is not None else ""
        seen = "\n".join(f"  {w.describe()}" for w in received) or "  nothing"
        raise WebhookTimeout(f"no {wanted} within {timeout:g} s on {self.prefix}; received:\n{seen}")

    def expect(self, flow: Flow, timeout: float = 10.0) -> list[Webhook]:
        """Wait until what arrived satisfies ``flow`` (at most ``timeout`` seconds), then check it:
        returns the webhooks, or raises :class:`~conformance.webhooks.expectations.FlowMismatch`."""
        if timeout < 0:
            raise ConfigurationError(f"timeout must be >= 0, not {timeout!r}")
        with self.sink.condition:
            self.sink.condition.wait_for(lambda: flow.satisfied_by(self._received), timeout=timeout)
            received = list(self._received)
        flow.check(received)
        return received

    @property
    def errors(self) -> list[BaseException]:
        with self.sink.lock:
            return list(self._errors)

    def check(self) -> None:
        """Re-raise the first error met while serving this scope; fail on webhooks with problems."""
        with self.sink.lock:
            errors = list(self._errors)
            bad = [w for w in self._received if w.problems]
        if errors:
            raise errors[0]
        if bad:
            raise WebhookProblems(
                f"{len(bad)} webhook(s) on {self.prefix} break the contract:\n{problems_text(bad)}", bad
            )


def _path(path: str | None) -> str | None:
    return path.lstrip("/") if isinstance(path, str) else path


def _selects(
    webhook: Webhook,
    event: str | None,
    call_id: str | None,
    predicate: Callable[[Webhook], bool] | None,
    path: str | None = None,
) -> bool:
    if event is not None and webhook.event_type != event:
        return False
    if call_id is not None and webhook.call_id != call_id:
        return False
    if path is not None and webhook.event_path != path:
        return False
    return predicate is None or predicate(webhook)


__all__ = ["SCOPE_ROOT", "SinkScope", "WebhookProblems", "WebhookTimeout", "problems_text"]
