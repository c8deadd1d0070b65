"""A least-recently-used cache bounded by the bytes its entries cost, not by their count.

The engine caches things whose size the outside world chooses (parsed webhook replies, decoded
PlayAudio files), so a count bound is no bound at all: a few big entries would hold the memory of
thousands of small ones.  Each entry states its cost when stored; an entry costing more than
``max_entry`` is not stored, and the oldest-used entries leave until the total fits ``max_bytes``.
Entries may also carry an expiry (seconds on any clock the caller passes to :meth:`get`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByteBoundedCache(Generic[K, V]):
    """``key -> value`` with a byte budget; safe to share between simulators on other threads."""

    def __init__(self, max_bytes: int, *, max_entry: int | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.max_entry = max_bytes if max_entry is None else min(max_entry, max_bytes)
        self._entries: OrderedDict[K, tuple[V, int, float | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K, now: float | None = None) -> V | None:
        """The value, unless absent or expired at ``now`` (an expired entry is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, _, expires = entry
            if expires is not None and (now is None or expires <= now):
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, cost: int, *, expires: float | None = None) -> bool:
        """Store ``value``; ``False`` (and nothing stored) when it alone would break the budget."""
        with self._lock:
            self._drop(key)
            if cost > min(self.max_entry, self.max_bytes):
                return False
            self._entries[key] = (value, cost, expires)
            self.total += cost
            while self.total > self.max_bytes:
                _, (_, old_cost, _) = self._entries.popitem(last=False)
                self.total -= old_cost
            return True

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._drop(key)

    def _drop(self, key: K) -> V | None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        self.total -= entry[1]
        return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.total = 0


__all__ = ["ByteBoundedCache"]
