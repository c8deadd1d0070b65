"""Soak the call engine with thousands of faulty calls: nothing leaks, every call ends once.

Each call's answer webhook goes to one path of the tests' fault-injection app (refused, reset,
reset mid-reply, stalled head or body, endless or flooding body, oversized, invalid UTF-8, HTML,
302, 404, 500, an unrequestable URL, and well-behaved replies in pieces or chunks), in turn.  The
calls are created in waves; after each wave the script waits until every call of it has ended.

Printed: threads, open descriptors (counted once the app has closed its idle keep-alive
connections) and resident memory before and after, the calls that did not
get exactly one disconnect webhook from the engine or got another cause than documented (both
must be 0; counted where the engine delivers, since a stalled call's disconnect has the same short
callback timeout, which a busy app may miss: those are counted apart), and the
same figures for a reference batch of healthy calls (``<Hangup/>`` at once) from the same run, so
growth that every call causes (call records are kept, see ``--max-ended-calls`` of ``serve``) is
told apart from growth that faults cause.

    .venv/bin/python bench/soak.py --calls 3000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.simulator import Simulator
from conformance.simulator.engine import Engine, engine_factory
from tests.simulator.engine.faults_app import EXPECTED_CAUSE, STALLING, FaultApp

ACCOUNT = "9900000"
APP_ID = "11111111-1111-4111-8111-111111111111"
AUTH = ("bw-user", "bw-pass")


@dataclass
class Snapshot:
    threads: int
    descriptors: int
    rss_mb: float

    @classmethod
    def now(cls) -> Snapshot:
        rss = 0.0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return cls(threading.active_count(), len(os.listdir("/proc/self/fd")), rss)


@dataclass
class Batch:
    name: str
    calls: int
    seconds: float
    before: Snapshot
    after: Snapshot
    not_once: int  # calls whose engine did not send exactly one disconnect webhook
    not_received: int  # delivered disconnects the app did not get once, or undelivered ones it got
    undelivered: int  # disconnects the app did not answer in time (a stalled call's has 1 s)
    wrong_cause: int
    examples: list[str]  # a few calls with another cause than expected

    def lines(self) -> list[str]:
        b, a = self.before, self.after
        return [
            f"{self.name:<10} {self.calls} calls in {self.seconds:.1f} s "
            f"({self.calls / self.seconds:.0f} calls/s)",
            f"  threads      {b.threads} -> {a.threads}",
            f"  descriptors  {b.descriptors} -> {a.descriptors}",
            f"  RSS          {b.rss_mb:.1f} -> {a.rss_mb:.1f} MB ({a.rss_mb - b.rss_mb:+.1f} MB, "
            f"{(a.rss_mb - b.rss_mb) * 1024 / self.calls:+.2f} KB a call)",
            f"  not exactly one disconnect sent: {self.not_once}; delivered but not received once: "
            f"{self.not_received}; unexpected cause: {self.wrong_cause}",
            f"  disconnects the app did not answer within the call's callback timeout: {self.undelivered}",
            *(f"    e.g. {example}" for example in self.examples),
        ]


class Disconnects:
    """Counts, in the engine, every disconnect webhook sent (and whether the app took it)."""

    def __init__(self, engine: Engine) -> None:
        self.sent: Counter[str] = Counter()
        self.delivered: set[str] = set()
        self.cause: dict[str, str] = {}
        original = engine.deliver

        async def deliver(leg: Any, event: str, target: Any, body: Any, timeout: float, **kw: Any) -> Any:
            call_id = str(getattr(leg, "id", ""))
            if event == "disconnect":
                self.sent[call_id] += 1
                self.cause[call_id] = str(body.get("cause"))
            reply = await original(leg, event, target, body, timeout, **kw)
            if event == "disconnect":
                self.delivered.add(call_id)
            return reply

        engine.deliver = deliver  # type: ignore[method-assign]

    def all_sent(self, ids: tuple[str, ...]) -> bool:
        return all(self.sent[call_id] for call_id in ids)


def _wait(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Setup:
    engine: Engine
    tally: Disconnects
    faults: FaultApp
    http: httpx.Client
    wave: int
    timeout: float  # of the calls to stalling paths


def _create(setup: Setup, path: str) -> str:
    faults = setup.faults
    body = {
        "from": "+19195550100",
        "to": "+19995550000",
        "applicationId": APP_ID,
        "answerUrl": faults.refused_url() if path == "/refused" else faults.url(path),
        "disconnectUrl": faults.url("/status"),
        "callbackTimeout": setup.timeout if path in STALLING else 15,
    }
    response = setup.http.post(
        f"/accounts/{ACCOUNT}/calls", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    if response.status_code != 201:
        raise SystemExit(f"createCall answered {response.status_code}: {response.text[:200]}")
    return str(response.json()["callId"])


def run_batch(name: str, paths: list[str], setup: Setup) -> Batch:
    tally, faults = setup.tally, setup.faults
    faults.close_connections()  # idle keep-alive connections of the last batch, both ends
    time.sleep(0.2)
    before = Snapshot.now()
    start = time.perf_counter()
    expected: dict[str, tuple[str, str]] = {}  # call id -> (path, cause)
    for first in range(0, len(paths), setup.wave):
        ids = []
        for path in paths[first : first + setup.wave]:
            call_id = _create(setup, path)
            expected[call_id] = (path, EXPECTED_CAUSE[path])
            ids.append(call_id)
        _wait(functools.partial(tally.all_sent, tuple(ids)), f"wave {first // setup.wave}'s disconnects", 120)
    _wait(lambda: setup.engine.running_tasks() == 0, "the engine's tasks to finish", 60)
    seconds = time.perf_counter() - start
    faults.close_connections()
    time.sleep(0.2)
    received = faults.disconnects()
    wrong = [
        f"{path}: {tally.cause.get(i)}"
        for i, (path, cause) in expected.items()
        if tally.cause.get(i) != cause
    ]
    return Batch(
        name,
        len(paths),
        seconds,
        before,
        Snapshot.now(),
        not_once=sum(1 for i in expected if tally.sent[i] != 1),
        not_received=sum(1 for i in expected if received[i] != (1 if i in tally.delivered else 0)),
        undelivered=sum(1 for i in expected if i not in tally.delivered),
        wrong_cause=len(wrong),
        examples=wrong[:3],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="faulty calls (default 2000)")
    parser.add_argument("--wave", type=int, default=200, help="calls created before waiting for them (200)")
    parser.add_argument(
        "--callback-timeout",
        type=float,
        default=1.0,
        help="of the calls to stalling paths, seconds (1; others 15)",
    )
    args = parser.parse_args()
    classes = list(EXPECTED_CAUSE)
    faulty = [classes[i % len(classes)] for i in range(args.calls)]
    with FaultApp() as faults, Simulator(engine_factory=engine_factory) as sim:
        engine = sim.runtime.engine
        assert isinstance(engine, Engine)
        engine.base_url = sim.base_url
        with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=30) as http:
            setup = Setup(engine, Disconnects(engine), faults, http, args.wave, args.callback_timeout)
            run_batch("warm-up", classes, setup)
            healthy = run_batch("healthy", ["/hangup"] * args.calls, setup)
            faulty_batch = run_batch("faulty", faulty, setup)
        errors = list(engine.errors)
    kinds = Counter(EXPECTED_CAUSE[p] for p in faulty)
    print(f"fault classes         {len(classes)} ({', '.join(f'{n} {c}' for c, n in sorted(kinds.items()))})")
    for line in healthy.lines() + faulty_batch.lines():
        print(line)
    print(f"simulator errors      {len(errors)}{': ' + errors[0] if errors else ''}")
    cores = os.cpu_count() or 1
    print(f"machine               {cores} cores, load average {os.getloadavg()[0]:.1f}")
    bad = sum(b.not_once + b.not_received + b.wrong_cause for b in (healthy, faulty_batch)) + len(errors)
    leaked = faulty_batch.after.threads > faulty_batch.before.threads
    if bad or leaked:
        print("FAILED")
        sys.exit(1)
    print("verified              every call ended with exactly one disconnect and its documented cause")


if __name__ == "__main__":
    main()
