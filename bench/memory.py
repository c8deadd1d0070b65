"""Memory of the simulator under load: webhook replies of the largest size, and many calls.

Two measurements, each with a reference taken in the same run:

* **Replies.**  ``--replies`` distinct replies of ``--reply-mb`` MB each go through
  ``documents.load`` (the door every webhook reply goes through), then ``--small`` distinct
  replies of 60 KB (within the BXML limit, so cacheable).  The process's resident memory grows by
  what the document cache keeps; the reference is the growth when the same replies are all kept
  alive (what a cache keyed on whole reply texts did).
* **Calls.**  ``--calls`` calls are created and ended in a store with the default cap on ended
  calls, and in one with no effective cap (the reference: every call kept).  Printed: the memory
  each keeps, and the time of listCalls' and getStatistics' look-ups at the end of each.

    .venv/bin/python bench/memory.py --replies 45 --calls 50000
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import time
from datetime import UTC, datetime, timedelta

from conformance.simulator.engine.documents import InvalidBxml, load
from conformance.simulator.models import Call
from conformance.simulator.store import DEFAULT_MAX_ENDED_CALLS, Store

ACCOUNT = "9900000"
APP = "11111111-1111-4111-8111-111111111111"


class SteppingClock:
    """A clock a millisecond further on at every reading (calls end in order)."""

    def __init__(self) -> None:
        self.value = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self.value += timedelta(milliseconds=1)
        return self.value


def rss_mb() -> float:
    """Resident memory now (Linux /proc; elsewhere the peak from getrusage)."""
    gc.collect()
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def reply(index: int, size: int) -> str:
    """A distinct reply of ``size`` characters (well-formed, far over the 64 KB BXML limit)."""
    head = f"<Response><Tag>{index}</Tag><SpeakSentence>"
    tail = "</SpeakSentence></Response>"
    return head + "a" * (size - len(head) - len(tail)) + tail


def bench_replies(count: int, size: int, first: int = 0) -> tuple[float, float]:
    before = rss_mb()
    for index in range(first, first + count):
        with contextlib.suppress(InvalidBxml):
            load(reply(index, size), "call")
    through_load = rss_mb() - before
    before = rss_mb()
    kept = [reply(index, size) for index in range(first, first + count)]
    kept_all = rss_mb() - before
    del kept
    return through_load, kept_all


def fill(store: Store, count: int) -> None:
    for _ in range(count):
        call = Call(ACCOUNT, store.new_call_id(), APP, "+19995550000", "+19195550100", "outbound")
        store.add_call(call)
        store.update_call(call.call_id, state="disconnected", end_time=store.now(), disconnect_cause="hangup")


def lookups_ms(store: Store, rounds: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        list(store.calls_of(ACCOUNT))
        store.queued_call_count(ACCOUNT)
    return (time.perf_counter() - start) / rounds * 1000


def bench_calls(count: int, cap: int) -> tuple[float, int, float]:
    before = rss_mb()
    store = Store(SteppingClock(), max_ended_calls=cap)
    fill(store, count)
    ms = lookups_ms(store)
    grown = rss_mb() - before
    kept = len(store.calls)
    del store
    return grown, kept, ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=45)
    parser.add_argument("--reply-mb", type=float, default=8.0)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--calls", type=int, default=50_000)
    args = parser.parse_args()
    size = int(args.reply_mb * 1024 * 1024)

    through_load, kept_all = bench_replies(args.replies, size)
    print(f"replies: {args.replies} x {args.reply_mb:g} MB through documents.load")
    print(f"  RSS growth  {through_load:8.1f} MB   (reference, all replies kept alive: {kept_all:.1f} MB)")
    through_load, kept_all = bench_replies(args.small, 60 * 1024, first=args.replies)
    print(f"replies: {args.small} x 60 KB through documents.load")
    print(f"  RSS growth  {through_load:8.1f} MB   (reference, all replies kept alive: {kept_all:.1f} MB)")

    capped = bench_calls(args.calls, DEFAULT_MAX_ENDED_CALLS)
    unbounded = bench_calls(args.calls, args.calls)
    print(f"calls: {args.calls} created and ended")
    print(
        f"  default cap {DEFAULT_MAX_ENDED_CALLS}: RSS growth {capped[0]:7.1f} MB, {capped[1]} kept, "
        f"listCalls+statistics look-ups {capped[2]:.2f} ms"
    )
    print(
        f"  reference, all kept:  RSS growth {unbounded[0]:7.1f} MB, {unbounded[1]} kept, "
        f"listCalls+statistics look-ups {unbounded[2]:.2f} ms"
    )


if __name__ == "__main__":
    main()
