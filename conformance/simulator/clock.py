"""The simulator's clock: virtual time that leaps ahead when nothing real is happening.

``VirtualClock(time_scale=None)`` is discrete-event time: it stands still while anything real is
happening and jumps straight to the next timer once the simulator is idle, that is no webhook or
media fetch in flight (tracked with :meth:`VirtualClock.busy`), no message between calls waiting to
be read (:class:`Mailbox`), no task just spawned or just woken, and no such activity for a short
real ``quiet_period`` (so a REST request that has just arrived is handled before time leaps).  A
flow with ten minutes of ``<Pause>`` therefore finishes at once while every timestamp still reads
ten minutes, and the order of events never depends on how fast the apps answer.

``time_scale=1.0`` (or any positive factor) is plain scaled real time without jumps.  The scale can
be switched while the simulator runs (``clock.time_scale = 1.0`` / ``None``).

Every waiting primitive (:meth:`sleep`, :meth:`wait_for`, :class:`Mailbox`) must be used from the
event loop that runs the simulator; the clock binds itself to the first loop that uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from conformance.errors import ConfigurationError

T = TypeVar("T")

_DEFAULT_QUIET = 0.02
_EPSILON = 1e-6
# The time scales a clock accepts: from a thousandth of real time to a thousand times real time.
# Beyond these the simulated date runs past what datetime can hold within hours of real time.
MIN_TIME_SCALE = 0.001
MAX_TIME_SCALE = 1000.0
# The latest simulated instant: any later timer fires at it (datetime cannot go past year 9999).
MAX_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


class VirtualClock:
    """A clock for discrete-event simulation with an optional real-time mode."""

    def __init__(
        self,
        time_scale: float | None = None,
        *,
        start: datetime | None = None,
        quiet_period: float = _DEFAULT_QUIET,
    ) -> None:
        if quiet_period < 0:
            raise ConfigurationError("quiet_period must be >= 0", reason="clock-quiet-period")
        begin = start if start is not None else datetime.now(UTC)
        if begin.tzinfo is None:
            raise ConfigurationError("the clock's start must be timezone-aware", reason="clock-start")
        self._scale = self._check_scale(time_scale)
        self.quiet_period = quiet_period
        self._anchor_virtual = begin.timestamp()
        self._anchor_real = time.monotonic()
        self._last = self._anchor_virtual
        self._busy = 0
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driver: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.jumps = 0
        self.jumped_seconds = 0.0

    # -- time ---------------------------------------------------------------------------------

    @staticmethod
    def _check_scale(value: float | None) -> float | None:
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not MIN_TIME_SCALE <= value <= MAX_TIME_SCALE
        ):
            raise ConfigurationError(
                f"time_scale must be a number from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g} or None, "
                f"not {value!r:.40}",
                reason="clock-time-scale",
            )
        return float(value)

    @property
    def time_scale(self) -> float | None:
        """``None``: virtual time with jumps; a number: real time times that factor."""
        return self._scale

    @time_scale.setter
    def time_scale(self, value: float | None) -> None:
        scale = self._check_scale(value)
        self._reanchor(self.time())
        self._scale = scale
        self._poke()

    @property
    def virtual(self) -> bool:
        return self._scale is None

    def time(self) -> float:
        """Simulated seconds since the Unix epoch; never decreases."""
        rate = 0.0 if self._scale is None else self._scale
        value = min(self._anchor_virtual + (time.monotonic() - self._anchor_real) * rate, MAX_TIMESTAMP)
        if value < self._last:
            value = self._last
        self._last = value
        return value

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def _reanchor(self, virtual: float) -> None:
        self._anchor_virtual = max(virtual, self._last)
        self._anchor_real = time.monotonic()
        self._last = self._anchor_virtual

    # -- activity accounting ------------------------------------------------------------------

    @property
    def busy_count(self) -> int:
        return self._busy

    def hold(self) -> None:
        """Mark one piece of real activity as started (pair with :meth:`release`)."""
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1
        if self._busy < 0:  # pragma: no cover - programming error guard
            self._busy = 0
            raise RuntimeError("VirtualClock.release() without hold()")
        self._poke()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Time may not jump while inside (webhook in flight, media being fetched)."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Start a task; the clock counts it as busy until it first runs."""
        self._bind()
        self.hold()
        started = False

        async def runner() -> T:
            nonlocal started
            started = True
            self.release()
            return await coro

        task = asyncio.get_running_loop().create_task(runner(), name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if not started:  # cancelled before it ran
                coro.close()
                self.release()

        task.add_done_callback(done)
        return task

    # -- waiting ------------------------------------------------------------------------------

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._changed = asyncio.Event()
            self._timers = [t for t in self._timers if not t[2].done()]
            self._driver = None
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive(), name="virtual-clock")

    def _poke(self) -> None:
        if self._changed is not None and self._loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                self._changed.set()
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._changed.set)

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        """A future the driver completes ``seconds`` of simulated time from now.

        When it fires, the driver holds the clock; whoever awaited it calls :meth:`_fired` once it
        runs again.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = min(self.time() + seconds, MAX_TIMESTAMP)  # a huge wait is capped, never an overflow
        heapq.heappush(self._timers, (deadline, next(self._seq), fut))
        self._poke()
        return fut

    def _fired(self, fut: asyncio.Future[None]) -> None:
        if fut.done() and not fut.cancelled():
            self.release()  # the driver held the clock from firing until the waiter resumed

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        self._bind()
        if not seconds > _EPSILON:  # float dust (or NaN) from deadline arithmetic is not worth a jump
            await asyncio.sleep(0)
            return
        fut = self._timer(seconds)
        try:
            await fut
        finally:
            self._fired(fut)

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        """``aw`` within ``timeout`` simulated seconds; ``TimeoutError`` otherwise."""
        if timeout is None:
            return await aw
        self._bind()
        task: asyncio.Future[T] = asyncio.ensure_future(aw)
        # The timer is a bare future in the heap, not a task sleeping on one: one task less per wait
        # (a Gather or Record waits like this for every digit or sound).  With no time left it is
        # a task that lets the loop turn once, as sleep() does, so that ``aw`` still gets a turn.
        held = timeout > _EPSILON
        timer: asyncio.Future[None]
        timer = self._timer(timeout) if held else asyncio.ensure_future(asyncio.sleep(0))
        both: set[asyncio.Future[Any]] = {task, timer}
        try:
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            timer.cancel()
            if held:
                self._fired(timer)
            raise
        if task.done():
            timer.cancel()
            if held:
                self._fired(timer)
            return task.result()
        if held:
            self._fired(timer)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise TimeoutError(f"no result within {timeout} simulated seconds")

    def _fire_due(self) -> bool:
        now = self.time() + _EPSILON  # timers a rounding error apart fire together
        fired = False
        while self._timers and (self._timers[0][2].done() or self._timers[0][0] <= now):
            _, _, fut = heapq.heappop(self._timers)
            if not fut.done():
                self.hold()  # released by the sleeper once it resumes
                fut.set_result(None)
                fired = True
        return fired

    async def _drive(self) -> None:
        changed = self._changed
        assert changed is not None
        while True:
            changed.clear()
            self._fire_due()
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers or (self._scale is None and self._busy > 0):
                await changed.wait()
                continue
            if self._scale is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self.quiet_period)
                    continue  # something happened: the quiet period starts again
                self._jump()
                continue
            real_wait = max(0.0, (self._timers[0][0] - self.time()) / self._scale)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), real_wait + 0.0005)

    def _jump(self) -> None:
        if self._busy or self._scale is not None:
            return
        while self._timers and self._timers[0][2].done():
            heapq.heappop(self._timers)
        if not self._timers:
            return
        target = self._timers[0][0]
        now = self.time()
        if target > now:
            self.jumps += 1
            self.jumped_seconds += target - now
            self._reanchor(target)

    async def aclose(self) -> None:
        """Stop the driver and every task started with :meth:`spawn`."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None


class Mailbox(Generic[T]):
    """A queue between tasks that keeps the clock still while an item is on its way to a waiter.

    Only a ``put`` that wakes a task blocked in :meth:`get` holds the clock (until that task
    runs); an item left for a consumer that is busy elsewhere (on a timer, say) holds nothing, so
    it cannot stop time from reaching that consumer's timer.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._held = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        if self.closed:
            return
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._clock.hold()
            self._held += 1
            self._waiter.set_result(None)

    def _unhold(self) -> None:
        if self._held:
            self._held -= 1
            self._clock.release()

    def get_nowait(self) -> T:
        return self._items.popleft()

    def clear(self) -> None:
        self._items.clear()

    def close(self) -> None:
        self.clear()
        while self._held:
            self._unhold()
        self.closed = True

    async def get(self) -> T:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
                self._unhold()
        return self._items.popleft()


__all__ = ["MAX_TIMESTAMP", "MAX_TIME_SCALE", "MIN_TIME_SCALE", "Mailbox", "VirtualClock"]
