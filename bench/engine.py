"""Benchmark the call engine: N concurrent loopback calls, every webhook to a local sink.

Each outbound call reaches one of the simulator's own numbers, so two legs run BXML:

* the callee leg (``initiate``) waits a second, sends DTMF ``12#``, says a sentence, sends ``#``;
* the caller leg (``answer``) gathers the digits (``gather``), records the sentence
  (``recordComplete``, ``recordingAvailable``), transfers to a simulated person who hangs up
  after five seconds (``transferAnswer``, ``transferDisconnect``, ``transferComplete``) and hangs up.

The sink is a small asyncio HTTP server in its own process.  Its raw capacity (webhook-sized
JSON POSTs over keep-alive connections from a bare asyncio loop, the fastest client there is) is
measured in the same run, and the engine's webhook rate is printed as a ratio of it; the rate the
engine's own HTTP client (aiohttp) reaches in the same loop is printed beside it.  Each of the
``--rounds`` rounds (default 3) measures the three back to back and has its own ratio; the best
round's is the figure, with the median beside it (a shared machine's other work skews single
figures by 2x).  After every round every call's webhooks are checked: each expected event
delivered exactly once, in the documented order.

    .venv/bin/python bench/engine.py --calls 1000 --rounds 5

The process's garbage collector is tuned as ``bw-conformance serve`` tunes it
(:func:`conformance.simulator.server.tune_gc`); ``--default-gc`` keeps Python's settings, to compare.

``--compare-client FILE`` runs the calls a second time with the engine's webhooks sent through
another client (the hand-written HTTP/1.1 client of the project's history, saved to a file outside
the repository: ``git show c01a4e5^:conformance/simulator/engine/http1.py > /tmp/http1.py``) and
prints both webhook rates and the process CPU per webhook of each, from the same run.  That client
is never part of the project; this only tells how far aiohttp is from it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import httpx

from conformance.simulator import Simulator
from conformance.simulator.engine import Engine, engine_factory
from conformance.simulator.engine.delivery import USER_AGENT, Deliverer, Reply
from conformance.simulator.server import tune_gc

ACCOUNT = "9900000"
APP_ID = "11111111-1111-4111-8111-111111111111"
AUTH = ("bw-user", "bw-pass")
CALLER = "+19195550100"
CALLEE = "+19195550150"

REPLIES: dict[str, str] = {
    "/initiate": (
        '<Response><Pause duration="1"/><SendDtmf>12#</SendDtmf><Pause duration="1"/>'
        "<SpeakSentence>please leave a message</SpeakSentence><SendDtmf>#</SendDtmf>"
        '<Pause duration="60"/></Response>'
    ),
    "/answer": (
        '<Response><Gather gatherUrl="/gather" terminatingDigits="#" firstDigitTimeout="10"/></Response>'
    ),
    "/gather": (
        '<Response><Record recordCompleteUrl="/recorded" recordingAvailableUrl="/available" '
        'maxDuration="30"/></Response>'
    ),
    "/recorded": (
        '<Response><Transfer transferCompleteUrl="/transferred">'
        '<PhoneNumber transferAnswerUrl="/b-answer" transferDisconnectUrl="/b-gone">'
        "+19995550005</PhoneNumber>"
        "</Transfer></Response>"
    ),
    "/b-answer": "<Response/>",
    "/transferred": "<Response><Hangup/></Response>",
}

# The order in which the caller leg's own webhooks must arrive.
CALLER_ORDER = ["answer", "gather", "recordComplete", "transferComplete", "disconnect"]


# ---------------------------------------------------------------------------------------- the sink


def _sink_process(port_out: Any, ready: Any) -> None:
    asyncio.run(_sink(port_out, ready))


async def _sink(port_out: Any, ready: Any) -> None:
    log: list[tuple[str, str, str | None, str | None, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length) if length else b""
                path = target.split("?", 1)[0]
                status, payload, ctype = "200 OK", b"", "application/xml"
                if path == "/_log":
                    payload, ctype = json.dumps(log).encode(), "application/json"
                elif path == "/_count":
                    count = sum(1 for entry in log if entry[0] == "/disconnect")
                    payload, ctype = str(count).encode(), "text/plain"
                elif path == "/_reset":
                    log.clear()
                    status = "204 No Content"
                else:
                    data = json.loads(body) if body else {}
                    log.append(
                        (
                            path,
                            data.get("eventType", ""),
                            data.get("callId"),
                            data.get("parentCallId"),
                            data.get("digits", ""),
                        )
                    )
                    reply = REPLIES.get(path)
                    if reply is None:
                        status = "204 No Content"
                    else:
                        payload = reply.encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port_out.value = server.sockets[0].getsockname()[1]
    ready.set()
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------------------------------- phases


def _payload(i: int) -> dict[str, Any]:
    return {
        "eventType": "raw",
        "eventTime": "2026-11-21T10:00:00.000Z",
        "accountId": ACCOUNT,
        "applicationId": APP_ID,
        "from": CALLER,
        "to": CALLEE,
        "direction": "outbound",
        "callId": f"c-raw-{i}",
        "callUrl": f"http://127.0.0.1/accounts/{ACCOUNT}/calls/c-raw-{i}",
        "startTime": "2026-11-21T10:00:00.000Z",
        "answerTime": "2026-11-21T10:00:01.000Z",
    }


async def _bare_post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    """One keep-alive POST /raw on an open connection; the status (the sink sends Content-Length)."""
    writer.write(
        b"POST /raw HTTP/1.1\r\nHost: sink\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def raw_capacity(base: str, requests: int, concurrency: int) -> float:
    """Webhook-like POSTs per second the sink takes from a bare asyncio keep-alive loop.

    ``concurrency`` connections, each sending the next request as soon as the last reply is in:
    the ceiling for webhook delivery to this sink on this machine right now.
    """
    host, port = base.removeprefix("http://").split(":")
    pending = list(range(requests))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while pending:
                body = json.dumps(_payload(pending.pop()), separators=(",", ":")).encode()
                status = await _bare_post(reader, writer, body)
                if status >= 300:
                    raise SystemExit(f"the sink answered {status}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - start)


async def client_capacity(base: str, requests: int, concurrency: int) -> float:
    """The same POSTs through aiohttp, configured as the engine configures it (a second reference)."""
    pending = list(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while pending:
                body = json.dumps(_payload(pending.pop()), separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json"}
                async with session.post(f"{base}/raw", data=body, headers=headers) as response:
                    await response.read()
                    if response.status >= 300:
                        raise SystemExit(f"the sink answered {response.status}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        async with session.post(f"{base}/_reset") as response:
            await response.read()
    return requests / elapsed


async def run_calls(sim_base: str, sink: str, calls: int, connections: int = 32) -> tuple[float, float]:
    """Create every call as fast as the REST API takes them; seconds to create, seconds to finish.

    The clock starts with the first createCall and stops when the sink has every caller's
    disconnect.  (httpx is not used here: with a thousand requests queued on its pool it stalls
    for many seconds before the first one leaves, which would be measured as engine time.)
    """
    token = base64.b64encode(":".join(AUTH).encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps(
        {
            "from": CALLER,
            "to": CALLEE,
            "applicationId": APP_ID,
            "answerUrl": f"{sink}/answer",
            "disconnectUrl": f"{sink}/disconnect",
        }
    ).encode()
    remaining = [calls]
    refused: list[int] = []
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def creator() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                url = f"{sim_base}/accounts/{ACCOUNT}/calls"
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 201:
                        refused.append(response.status)

        start = time.perf_counter()
        await asyncio.gather(*(creator() for _ in range(connections)))
        created = time.perf_counter() - start
        if refused:
            raise SystemExit(f"createCall refused {len(refused)} calls: {sorted(set(refused))}")
        while True:
            async with session.get(f"{sink}/_count") as response:
                done = int(await response.read())
            if done >= calls:
                return created, time.perf_counter() - start
            if time.perf_counter() - start > 300:
                raise SystemExit(f"only {done} of {calls} calls finished within 300 s")
            await asyncio.sleep(0.05)


def verify(log: list[list[Any]], calls: int) -> list[str]:
    """Every expected webhook exactly once per call, in order; the problems found."""
    problems: list[str] = []
    by_call: dict[str, list[str]] = defaultdict(list)
    b_legs: dict[str, list[str]] = defaultdict(list)
    digits: list[str] = []
    for _path, event, call_id, _parent, gathered in log:
        if event in ("transferAnswer", "transferDisconnect"):
            b_legs[str(call_id)].append(event)
            continue
        by_call[str(call_id)].append(event)
        if event == "gather":
            digits.append(gathered)
    callers = [c for c, events in by_call.items() if "answer" in events]
    callees = [c for c, events in by_call.items() if "initiate" in events]
    if len(callers) != calls or len(callees) != calls or len(b_legs) != calls:
        problems.append(
            f"{len(callers)} callers, {len(callees)} callees, {len(b_legs)} B-legs for {calls} calls"
        )
    for call_id in callers:
        events = by_call[call_id]
        ordered = [e for e in events if e in CALLER_ORDER]
        if ordered != CALLER_ORDER:
            problems.append(f"{call_id}: {events}")
        elif events.count("recordingAvailable") != 1 or events.index("recordingAvailable") < events.index(
            "recordComplete"
        ):
            problems.append(f"{call_id}: recordingAvailable {events}")
    for call_id in callees:
        if by_call[call_id] != ["initiate", "disconnect"]:
            problems.append(f"{call_id}: {by_call[call_id]}")
    for call_id, events in b_legs.items():
        if events != ["transferAnswer", "transferDisconnect"]:
            problems.append(f"B-leg {call_id}: {events}")
    wrong = [d for d in digits if d != "12"]
    if wrong:
        problems.append(f"{len(wrong)} gathers heard something else than 12, e.g. {wrong[:3]}")
    return problems


def use_client_from(path: str) -> Callable[[], None]:
    """Send the engine's webhooks through ``Http1Pool`` of the file at ``path``; undo with the result.

    Only :meth:`Deliverer._exchange` (one request, one reply) is replaced: the egress check, the
    deadline per attempt, the fallback and the retries stay the engine's own.
    """
    spec = importlib.util.spec_from_file_location("_compared_client", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load a client from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    original = Deliverer._exchange
    pools: dict[int, Any] = {}

    async def exchange(
        self: Deliverer, method: str, url: Any, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        pool = pools.setdefault(id(self), module.Http1Pool())
        sent = {"User-Agent": USER_AGENT, "Accept": "*/*", **headers}
        # No deadline of its own: the engine's one deadline per attempt is around this call.
        response = await pool.request(method, str(url), sent, body or b"", 3600.0)
        return Reply(response.status, response.body, response.headers.get("content-type", ""), str(url))

    setattr(Deliverer, "_exchange", exchange)  # noqa: B010 - a method swapped for the comparison only
    return lambda: setattr(Deliverer, "_exchange", original)


async def engine_run(sink: str, calls: int) -> tuple[float, float, list[list[Any]], int, float, float]:
    """One run of ``calls`` pairs on a fresh simulator: seconds creating, seconds in all, the sink's
    log, the clock's jumps and skipped seconds, and this process's CPU seconds over the run."""
    with Simulator(engine_factory=engine_factory) as sim:
        engine = sim.runtime.engine
        assert isinstance(engine, Engine)
        engine.base_url = sim.base_url
        application = sim.store.accounts[ACCOUNT].applications[APP_ID]
        application.call_initiated_callback_url = f"{sink}/initiate"
        application.call_status_callback_url = f"{sink}/status"
        cpu = time.process_time()
        created, elapsed = await run_calls(sim.base_url, sink, calls)
        cpu = time.process_time() - cpu
        await asyncio.sleep(0.5)  # let trailing asynchronous webhooks land before reading the log
        async with httpx.AsyncClient(timeout=60) as probe:
            log = (await probe.get(f"{sink}/_log")).json()
            (await probe.get(f"{sink}/_reset")).raise_for_status()
        clock = engine.clock
        return created, elapsed, log, clock.jumps, clock.jumped_seconds, cpu


async def main_async(calls: int, concurrency: int, compare_client: str | None = None, rounds: int = 3) -> int:
    port = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_sink_process, args=(port, ready), daemon=True)
    process.start()
    # Per round: the sink's raw capacity, aiohttp's, then the engine, back to back, so that each
    # round's ratio compares figures taken under the same load; the best of each over the rounds is
    # the figure (on a shared machine a round only ever loses to other work, never gains).
    measured: list[tuple[float, float, float, float, float, int]] = []
    problems: list[str] = []
    try:
        if not ready.wait(10):
            raise SystemExit("the sink did not start")
        sink = f"http://127.0.0.1:{port.value}"
        for number in range(1, rounds + 1):
            capacity = await raw_capacity(sink, max(2000, calls * 4), concurrency)
            through_client = await client_capacity(sink, max(2000, calls * 4), concurrency)
            created, elapsed, log, jumps, virtual, cpu = await engine_run(sink, calls)
            problems += [f"round {number}: {p}" for p in verify(log, calls)]
            measured.append((capacity, through_client, created, elapsed, cpu, len(log)))
        # With a client to compare: three more runs, the other client twice then aiohttp again, so
        # that neither gains from coming second (warm caches) or loses to a passing load.
        compared: dict[str, list[tuple[float, list[list[Any]], float]]] = {"aiohttp": [(elapsed, log, cpu)]}
        for name in ("compared", "compared", "aiohttp") if compare_client is not None else ():
            restore = use_client_from(compare_client) if name == "compared" and compare_client else None
            try:
                _, more_elapsed, more_log, _, _, more_cpu = await engine_run(sink, calls)
            finally:
                if restore is not None:
                    restore()
            compared.setdefault(name, []).append((more_elapsed, more_log, more_cpu))
    finally:
        process.terminate()
        process.join(5)
    webhooks = len(log)
    print(f"calls                 {calls} concurrent loopback pairs ({calls * 3} legs), {rounds} rounds")
    print(f"virtual time          {virtual:.0f} s skipped in {jumps} jumps (last round)")
    print(f"webhooks              {webhooks} ({webhooks / calls:.1f} per call)")
    for number, (capacity, through_client, created, elapsed, cpu, sent) in enumerate(measured, 1):
        print(
            f"round {number:<16d}{sent / elapsed:.0f} webhooks/s in {elapsed:.2f} s"
            f" ({created:.2f} s creating),"
            f" raw {capacity:.0f}/s, aiohttp {through_client:.0f}/s, ratio {sent / elapsed / capacity:.2f},"
            f" {cpu / sent * 1e6:.0f} us CPU per webhook"
        )
    # The ratio of each round compares figures taken minutes apart at most; the best round's is the
    # figure, the median beside it.  (The best raw capacity and the best engine rate may come from
    # different rounds, and a moment when the machine was idle would skew their ratio.)
    ratios = sorted(sent / elapsed / capacity for capacity, _, _, elapsed, _, sent in measured)
    best = max(measured, key=lambda m: m[5] / m[3] / m[0])
    capacity, through_client, _, elapsed, _, sent = best
    rate = sent / elapsed
    per_webhook = min(cpu / sent for _, _, _, _, cpu, sent in measured) * 1e6
    print(f"webhooks/s            {rate:.0f} (the best round)")
    print(
        f"sink raw capacity     {capacity:.0f} requests/s"
        f" ({concurrency} connections, bare asyncio, the same round)"
    )
    print(f"through aiohttp       {through_client:.0f} requests/s (the engine's client, the same round)")
    print(
        f"ratio                 {rate / capacity:.2f} of the sink's raw capacity"
        f" (best round; median of {len(ratios)}: {ratios[len(ratios) // 2]:.2f})"
    )
    print(f"                      {rate / through_client:.2f} of aiohttp's own rate to the sink (same round)")
    print(
        f"CPU per webhook       {per_webhook:.0f} us"
        " (lowest round; this process: engine, REST and the bench's client)"
    )
    if len(compared) > 1:
        figures: dict[str, tuple[float, float]] = {}
        for name, runs in compared.items():
            for _, run_log, _ in runs[1:] if name == "aiohttp" else runs:
                problems += [f"{name} run: {p}" for p in verify(run_log, calls)]
            sent = sum(len(run_log) for _, run_log, _ in runs)
            figures[name] = (
                sent / sum(run_elapsed for run_elapsed, _, _ in runs),
                sum(run_cpu for _, _, run_cpu in runs) / sent * 1e6,
            )
            print(
                f"{name + ' x' + str(len(runs)):22s}{figures[name][0]:.0f} webhooks/s ="
                f" {figures[name][0] / capacity:.2f} of the raw capacity, {figures[name][1]:.0f} us CPU"
                " per webhook (order: aiohttp, compared, compared, aiohttp)"
            )
        (ours, our_cpu), (theirs, their_cpu) = figures["aiohttp"], figures["compared"]
        print(f"aiohttp vs compared   {ours / theirs:.2f} of its rate, {our_cpu / their_cpu:.2f}x its CPU")
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"machine               {cores} cores, load average {load:.1f} (other work skews the figures)")
    if problems:
        print(f"FAILED: {len(problems)} problems; first: {problems[:5]}")
        return 1
    print("verified              every webhook delivered once, in order; every gather heard '12'")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="concurrent loopback calls (default 200)")
    parser.add_argument("--concurrency", type=int, default=256, help="client connections for the raw test")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, best of each figure kept (default 3)")
    parser.add_argument(
        "--compare-client", metavar="FILE", help="a second run with webhooks sent by FILE's Http1Pool"
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep Python's garbage collector settings (default: tuned as `bw-conformance serve` tunes them)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.default_gc:
        tune_gc()
    print(f"garbage collector     {'Python defaults' if args.default_gc else 'tuned as serve tunes it'}")
    sys.exit(asyncio.run(main_async(args.calls, args.concurrency, args.compare_client, args.rounds)))


if __name__ == "__main__":
    main()
