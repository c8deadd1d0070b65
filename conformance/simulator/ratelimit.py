"""Per-account createCall limits: calls per second and concurrent calls (429 + ``Retry-After``).

The calls-per-second window runs on the real monotonic clock, not the simulator's clock: requests
arrive in real time even when simulated time leaps ahead.  Concurrent calls are the account's calls
that have not ended, counted in the store.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from conformance.simulator.api_errors import ApiError
from conformance.simulator.models import Account
from conformance.simulator.store import Store

__all__ = ["CONCURRENT_DESCRIPTION", "CPS_DESCRIPTION", "RateLimiter"]

CPS_DESCRIPTION = "Account call creation rate limit exceeded"
CONCURRENT_DESCRIPTION = "Account concurrent call limit exceeded"


class RateLimiter:
    """Decides whether one more createCall is allowed for an account, and records it if so.

    An account's own ``calls_per_second`` / ``max_concurrent_calls`` win; otherwise the defaults
    given here (from :class:`~conformance.simulator.config.SimulatorConfig`) apply; ``None`` is
    unlimited.
    """

    def __init__(
        self,
        store: Store,
        *,
        calls_per_second: float | None = None,
        max_concurrent_calls: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.calls_per_second = calls_per_second
        self.max_concurrent_calls = max_concurrent_calls
        self._monotonic = monotonic
        self._windows: dict[str, deque[float]] = {}

    def limits(self, account: Account) -> tuple[float | None, int | None]:
        cps = account.calls_per_second if account.calls_per_second is not None else self.calls_per_second
        conc = account.max_concurrent_calls
        if conc is None:
            conc = self.max_concurrent_calls
        return cps, conc

    def admit(self, account: Account) -> None:
        """Raise a 429 :class:`ApiError` when a new call would break a limit; else count it."""
        cps, concurrent = self.limits(account)
        if concurrent is not None and self.store.active_call_count(account.id) >= concurrent:
            raise ApiError(
                429, CONCURRENT_DESCRIPTION, rule="concurrent-call-limit", error_type="error", error_id="",
                headers={"Retry-After": "1"},
            )  # fmt: skip
        if cps is None:
            return
        now = self._monotonic()
        window = self._windows.setdefault(account.id, deque())
        # A window of one second holding at most ``cps`` calls (fractional rates: 1/cps apart).
        span, allowed = (1.0, int(cps)) if cps >= 1 else (1.0 / cps, 1)
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= allowed:
            wait = window[0] + span - now
            raise ApiError(
                429, CPS_DESCRIPTION, rule="call-rate-limit", error_type="error", error_id="",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )  # fmt: skip
        window.append(now)

    def reset(self, account_id: str | None = None) -> None:
        if account_id is None:
            self._windows.clear()
        else:
            self._windows.pop(account_id, None)
