"""Webhooks per second of ``fuzz_app`` against a trivial local app, beside a plain loop of the same requests.

The app (starlette under uvicorn on 127.0.0.1) answers call and transferAnswer events with
``<Response><Hangup/></Response>`` and every other event with 204, and keeps every body it receives.
The fuzzer's run is then replayed by a plain ``httpx`` loop that posts the recorded bodies with no
generation and no checks.  Both figures come from the same run on the same machine, so their ratio
is the cost of generating, shrinking and checking.

Then the fuzzer runs against each planted-bug variant of the example IVR app of the tests
(``tests/fuzz/test_ivr.py``: same events, examples and seed as the test) and prints how many of the
planted bugs it found and the bugs found per minute: a faster fuzzer that finds less is not faster.

With ``--draw-times`` it first prints, for every event, what drawing one payload costs outside any
test run (best of three rounds of a fresh ``ConjectureData`` per payload) and how many choices it
takes: the generation cost alone, per event.

    .venv/bin/python bench/fuzz.py [--max-examples N] [--events a,b,...] [--no-planted] [--draw-times]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from random import Random
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.fuzz import fuzz_app
from conformance.webhooks.events import catalogue

HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'


def trivial_app(received: list[bytes]) -> Starlette:
    # call-context events get a Hangup; conference events (empty allowed) and the rest get a 204
    bxml_events = {
        name for name, event in catalogue().items() if event.bxml_context in ("call", "transferAnswer")
    }

    async def hook(request: Request) -> Response:
        body = await request.body()
        received.append(body)
        if json.loads(body).get("eventType") in bxml_events:
            return Response(HANGUP, media_type="application/xml")
        return Response(status_code=204)

    return Starlette(routes=[Route("/", hook, methods=["POST"])])


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join()


def planted_bugs() -> None:
    """Bugs found per minute on the planted-bug apps of the tests, with the test's own settings."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fuzz import apps
    from tests.fuzz.test_ivr import VARIANTS

    found = 0
    started = time.perf_counter()
    for label, handlers, events, expected in VARIANTS:
        report = fuzz_app(apps.create_app(handlers), events=events, max_examples=30, seed=3, sequences=False)
        hit = expected <= report.checks_failed()
        found += hit
        print(f"  {label:<42}{'found' if hit else 'MISSED':>8}{report.elapsed:>8.1f} s")
    minutes = (time.perf_counter() - started) / 60
    print(
        f"planted bugs found:         {found}/{len(VARIANTS)} in {minutes * 60:.1f} s"
        f" = {found / minutes:.1f} per minute"
    )


def _choices_of_one(strategy: Any, rng: Random) -> int:
    """Draw one value of ``strategy`` outside any test run; the number of choices it took."""
    from hypothesis.control import BuildContext
    from hypothesis.internal.conjecture.data import ConjectureData

    data = ConjectureData(random=rng)
    with BuildContext(data, wrapped_test=None):
        data.draw(strategy)
    data.freeze()
    return len(data.choices)


def draw_times(events: list[str] | None, draws: int = 100, rounds: int = 3) -> None:
    """Milliseconds and choices per payload drawn straight from hypothesis, per event."""
    from conformance.fuzz.strategies import payloads

    events_by_name = catalogue()
    names = events or list(events_by_name)
    best: dict[str, float] = {}
    choices: dict[str, float] = {}
    for round_ in range(rounds):
        for name in names:
            strategy = payloads(events_by_name[name])
            rng = Random(round_)
            made = 0
            started = time.perf_counter()
            for _ in range(draws):
                made += _choices_of_one(strategy, rng)
            spent = (time.perf_counter() - started) / draws * 1000
            best[name] = min(best.get(name, spent), spent)
            choices[name] = made / draws
    for name in names:
        print(f"  {name:<34}{best[name]:>6.2f} ms{choices[name]:>7.1f} choices")
    print(
        f"payload draw, mean of {len(names)} events: {sum(best.values()) / len(names):.2f} ms,"
        f" {sum(choices.values()) / len(names):.1f} choices (best of {rounds} rounds of {draws})"
    )


def _mean_choices(events: list[str] | None, draws: int = 20) -> float:
    """Choices one payload takes, averaged over ``draws`` payloads of each event."""
    from conformance.fuzz.strategies import payloads

    events_by_name = catalogue()
    names = events or list(events_by_name)
    rng = Random(0)
    strategies = [payloads(events_by_name[name]) for name in names]
    total = sum(_choices_of_one(strategy, rng) for strategy in strategies for _ in range(draws))
    return total / (draws * len(names))


def hypothesis_floor(choices: float, examples: int = 400) -> tuple[float, float]:
    """What hypothesis itself costs, in ms, measured here: one example of a test whose strategy is a
    single integer, and one more integer choice inside a composite (the cheapest choice there is)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    width = max(1, round(choices))
    quiet = settings(
        max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )

    @st.composite
    def flat(draw: st.DrawFn) -> list[int]:
        return [draw(st.integers(0, 2**31)) for _ in range(width)]

    timings: dict[str, float] = {}
    # A wide range: hypothesis stops early once it has tried every value of a small one.
    for label, strategy in (("one", st.integers(0, 2**31)), ("flat", flat())):

        @quiet
        @given(strategy)
        def test(value: object) -> None:
            pass

        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            test()
            best = min(best, (time.perf_counter() - started) / examples * 1000)
        timings[label] = best
    per_choice = (timings["flat"] - timings["one"]) / max(1, width - 1)
    return timings["one"], per_choice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--events", help="comma-separated event types (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-planted", action="store_true", help="skip the planted-bug apps")
    parser.add_argument("--draw-times", action="store_true", help="first time one payload's draw per event")
    args = parser.parse_args()
    events = args.events.split(",") if args.events else None
    if args.draw_times:
        draw_times(events)

    catalogue()  # parse the contract before timing anything
    received: list[bytes] = []
    with serving(trivial_app(received)) as url:
        report = fuzz_app(url, events=events, max_examples=args.max_examples, seed=args.seed)
        bodies = list(received)
        with httpx.Client(headers={"Content-Type": "application/json"}) as client:
            started = time.perf_counter()
            for body in bodies:
                client.post(url, content=body).raise_for_status()
            plain = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"the trivial app should pass:\n{report.format_text()}")
    fuzz_rate = report.sent / report.elapsed
    plain_rate = len(bodies) / plain
    print(
        f"webhooks sent by fuzz-app:  {report.sent} in {report.elapsed:.2f} s = {fuzz_rate:,.0f} webhooks/s"
    )
    print(f"same requests, plain loop:  {len(bodies)} in {plain:.2f} s = {plain_rate:,.0f} webhooks/s")
    print(f"fuzz-app / plain loop:      {fuzz_rate / plain_rate:.3f} (cost of generation and checks)")
    # The most any hypothesis-driven fuzzer can reach here: one example per webhook, each costing at
    # least hypothesis' own per-example work plus its cheapest choices for a payload's worth of them.
    choices = _mean_choices(events)
    per_example, per_choice = hypothesis_floor(choices)
    floor_ms = per_example + per_choice * max(0.0, choices - 1)
    plain_ms = 1000 / plain_rate
    print(
        f"hypothesis alone, same run: {per_example:.2f} ms per example, {per_choice * 1000:.0f} µs per"
        f" integer choice; a payload takes {choices:.1f} choices -> at least {floor_ms:.2f} ms per webhook"
    )
    print(
        f"ceiling of the ratio:       {plain_ms / (plain_ms + floor_ms):.3f} (plain loop {plain_ms:.2f} ms"
        " per webhook, plus hypothesis' floor, with no check and no app work added)"
    )
    if not args.no_planted:
        planted_bugs()


if __name__ == "__main__":
    main()
