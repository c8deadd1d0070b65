"""Client-side pacing for real accounts: calls per second, a call budget, and 429 ``Retry-After``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from conformance.errors import ConformanceError

__all__ = ["CallBudgetExhaustedError", "CallPacer", "parse_retry_after"]


class CallBudgetExhaustedError(ConformanceError, RuntimeError):
    """The run has created as many calls as its budget allows."""

    reason = "call-budget-exhausted"


class _HasStatus(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, Sequence[str] | str]: ...


R = TypeVar("R", bound=_HasStatus)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _retry_after(headers: Mapping[str, Sequence[str] | str]) -> str | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return value if isinstance(value, str) else (value[0] if value else None)
    return None


class CallPacer:
    """Spaces call creation at ``calls_per_second``, stops at ``call_budget`` and waits out 429s.

    ``calls_per_second`` and ``call_budget`` ``None`` mean no pacing and no budget (the simulator
    profile).  Thread-safe; ``sleep`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        calls_per_second: float | None = None,
        call_budget: int | None = None,
        max_retries: int = 3,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if calls_per_second is not None and calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        self.calls_per_second = calls_per_second
        self.call_budget = call_budget
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot: float | None = None
        self.calls_created = 0
        self.waited_for_rate_limit = 0.0

    def before_call_creation(self) -> None:
        """Reserve one call from the budget and wait for its slot.

        Raises :class:`CallBudgetExhaustedError` once the budget is spent.
        """
        with self._lock:
            if self.call_budget is not None and self.calls_created >= self.call_budget:
                raise CallBudgetExhaustedError(
                    f"the call budget of {self.call_budget} calls for this run is spent"
                )
            self.calls_created += 1
            wait = 0.0
            if self.calls_per_second is not None:
                now = self._clock()
                slot = now if self._next_slot is None else max(now, self._next_slot)
                wait = slot - now
                self._next_slot = slot + 1.0 / self.calls_per_second
        if wait > 0:
            self._sleep(wait)

    def send(self, request: Callable[[], R]) -> R:
        """Send ``request``; on 429 with a usable ``Retry-After`` wait and resend (bounded)."""
        response = request()
        for _ in range(self.max_retries):
            if response.status_code != 429:
                break
            delay = parse_retry_after(_retry_after(response.headers))
            if delay is None or delay > self.max_wait:
                break
            self.waited_for_rate_limit += delay
            self._sleep(delay)
            response = request()
        return response
