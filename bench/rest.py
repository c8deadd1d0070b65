"""Throughput and latency of the simulator's REST API beside a minimal ASGI app, same run, same client.

    python bench/rest.py [--seconds 2] [--connections 8] [--rounds 3]

This measures the REST layer, so the simulator runs with the webhook-free lifecycle engine (the call
engine has its own figures in bench/engine.py, and would send webhooks for every created call).
Each server runs under uvicorn (same settings) in its own process; the client is a small asyncio
HTTP/1.1 keep-alive client in this process that sends pre-built requests, so the client costs the
same for both.  The reference is the ceiling for a Python server here: a raw ASGI callable that
answers fixed JSON (and, for POST, reads the body first).  Printed: requests/s, p50 and p99 latency
of getCallState and createCall on each server, and the simulator's share of the reference.
getCallState also runs on the simulator with an OAuth2 Bearer token from its token endpoint instead
of HTTP Basic, in the same alternating rounds; a ratio line compares the two.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUTH = "Basic " + base64.b64encode(b"bw-user:bw-pass").decode()
CLIENT_AUTH = "Basic " + base64.b64encode(b"bw-client:bw-client-secret").decode()
TOKEN_PATH = "/api/v1/oauth2/token"
ACCOUNT = "9900000"
CREATE_BODY = json.dumps(
    {
        "to": "+19195550101",
        "from": "+19195550100",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "answerUrl": "https://example.test/answer",
    }
).encode()


# ----------------------------------------------------------------------------------------- servers
async def minimal_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The reference: fixed JSON, no routing, no validation."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 201 if scope["method"] == "POST" else 200
    body = b'{"callId":"c-00000000-00000000-0000-4000-8000-000000000000","state":"answered"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve(kind: str, ports: Any) -> None:
    import uvicorn

    from conformance.simulator.server import bind_socket

    if kind == "simulator":
        from conformance.simulator import SimulatorConfig, create_app
        from conformance.simulator.lifecycle import LifecycleEngine

        app: Any = create_app(SimulatorConfig(), engine_factory=LifecycleEngine)
    else:
        app = minimal_app
    sock = bind_socket("127.0.0.1", 0)
    ports.put(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


# ----------------------------------------------------------------------------------------- client
def _request(
    method: str, path: str, body: bytes = b"", auth: str = AUTH, content_type: str = "application/json"
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    bad: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def _load(port: int, request: bytes, expect: int, seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    bad = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                status, _ = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - t0)
                if status != expect:
                    bad += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(len(latencies), time.perf_counter() - started, latencies, bad)


async def _bearer(port: int) -> str:
    """``Bearer <token>`` from the simulator's token endpoint (client credentials bw-client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = _request(
        "POST", TOKEN_PATH, b"grant_type=client_credentials", CLIENT_AUTH, "application/x-www-form-urlencoded"
    )
    status, body = await _exchange(reader, writer, request)
    writer.close()
    if status != 200:
        raise SystemExit(f"the token endpoint refused bw-client: {status} {body!r}")
    return "Bearer " + str(json.loads(body)["access_token"])


async def _create_call(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, body = await _exchange(
        reader, writer, _request("POST", f"/accounts/{ACCOUNT}/calls", CREATE_BODY)
    )
    writer.close()
    if status != 201:
        raise SystemExit(f"createCall failed on the simulator: {status} {body!r}")
    call_id: str = json.loads(body)["callId"]
    return call_id


def _inprocess_cpu_us(app: Any, method: str, path: str, body: bytes, n: int, auth: str = AUTH) -> float:
    """CPU microseconds per request with the app called directly (no HTTP, no other process)."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", auth.encode()),
        (b"content-type", b"application/json"),
    ]

    async def one() -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "headers": headers, "server": ("127.0.0.1", 80),
                 "client": ("127.0.0.1", 1)}  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        await app(scope, receive, send)

    async def many() -> float:
        for _ in range(200):  # warm-up
            await one()
        batch, best = max(1, n // 5), float("inf")
        for _ in range(5):  # the best of five batches: other processes only ever add time
            start = time.process_time()
            for _ in range(batch):
                await one()
            best = min(best, (time.process_time() - start) / batch)
        return best * 1e6

    return asyncio.run(many())


def _inprocess_report() -> None:
    from conformance.simulator import SimulatorConfig, create_app
    from conformance.simulator.lifecycle import LifecycleEngine

    sim: Any = create_app(SimulatorConfig(), engine_factory=LifecycleEngine)
    create = f"/accounts/{ACCOUNT}/calls"
    sim_create = _inprocess_cpu_us(sim, "POST", create, CREATE_BODY, 2000)
    runtime = sim.state.runtime
    call_id = next(iter(runtime.store.calls))
    get = f"/accounts/{ACCOUNT}/calls/{call_id}"
    token = "Bearer " + runtime.tokens.issue(runtime.store.credentials["bw-client"])
    basic_us, bearer_us = float("inf"), float("inf")
    for _ in range(3):  # Basic and Bearer in alternation, the best of each
        basic_us = min(basic_us, _inprocess_cpu_us(sim, "GET", get, b"", 5000))
        bearer_us = min(bearer_us, _inprocess_cpu_us(sim, "GET", get, b"", 5000, token))
    rows = [
        ("getCallState", _inprocess_cpu_us(minimal_app, "GET", get, b"", 5000), basic_us),
        ("getCallState+B", _inprocess_cpu_us(minimal_app, "GET", get, b"", 5000, token), bearer_us),
        ("createCall", _inprocess_cpu_us(minimal_app, "POST", create, CREATE_BODY, 2000), sim_create),
    ]
    print("in-process CPU per request (app alone, independent of machine load; +B: Bearer token):")
    for name, ref, mine in rows:
        print(f"{name:<16}minimal {ref:6.1f} us   simulator {mine:6.1f} us")
    print(f"{'Bearer/Basic':<16}getCallState CPU on the simulator: {bearer_us / basic_us:.0%} (aim: <= 105%)")


def _merge(parts: list[Result]) -> Result:
    """Median throughput of the rounds, every latency pooled."""
    ordered = sorted(parts, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    latencies = [x for part in parts for x in part.latencies]
    return Result(middle.requests, middle.seconds, latencies, sum(p.bad for p in parts))


def _run(seconds: float, connections: int, rounds: int) -> None:
    ctx = mp.get_context("spawn")
    ports: Any = ctx.Queue()
    procs = {
        kind: ctx.Process(target=_serve, args=(kind, ports), daemon=True) for kind in ("simulator", "minimal")
    }
    found: dict[str, int] = {}
    for kind, proc in procs.items():
        proc.start()
        found[kind] = ports.get(timeout=30)
    try:
        time.sleep(0.5)
        call_id = asyncio.run(_create_call(found["simulator"]))
        token = asyncio.run(_bearer(found["simulator"]))
        get = f"/accounts/{ACCOUNT}/calls/{call_id}"
        basic_get, bearer_get = _request("GET", get), _request("GET", get, auth=token)
        create = _request("POST", f"/accounts/{ACCOUNT}/calls", CREATE_BODY)
        # operation -> expected status, [(row label, port, request)], run in alternation
        cases: dict[str, tuple[int, list[tuple[str, int, bytes]]]] = {
            "getCallState": (
                200,
                [
                    ("minimal", found["minimal"], basic_get),
                    ("simulator", found["simulator"], basic_get),
                    ("sim+Bearer", found["simulator"], bearer_get),
                ],
            ),
            "createCall": (
                201,
                [("minimal", found["minimal"], create), ("simulator", found["simulator"], create)],
            ),
        }
        print(f"{seconds:g} s x {rounds} rounds per server, {connections} keep-alive connections, uvicorn")
        print(f"{'operation':<16}{'server':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
        for name, (expect, rows) in cases.items():
            runs: dict[str, list[Result]] = {label: [] for label, _, _ in rows}
            for _, port, request in rows:  # warm-up
                asyncio.run(_load(port, request, expect, 0.5, connections))
            for _ in range(rounds):  # alternate, so background load hits every row alike
                for label, port, request in rows:
                    runs[label].append(asyncio.run(_load(port, request, expect, seconds, connections)))
            results = {label: _merge(parts) for label, parts in runs.items()}
            for label, res in results.items():
                flag = f"  ({res.bad} unexpected statuses)" if res.bad else ""
                print(f"{name:<16}{label:<11}{res.rps:>9.0f}{res.pct(0.5):>9.2f}{res.pct(0.99):>9.2f}{flag}")
            ratio = results["simulator"].rps / results["minimal"].rps
            print(f"{name:<16}{'ratio':<11}{ratio:>9.0%}  simulator / minimal ASGI (aim: >= 50%)")
            if "sim+Bearer" in results:
                share = results["sim+Bearer"].rps / results["simulator"].rps
                print(f"{name:<16}{'ratio':<11}{share:>9.0%}  Bearer token / HTTP Basic on the simulator")
        print(f"req/s: median of {rounds} alternating rounds; latencies pooled; 0.5 s warm-up per server")
        print("sim+Bearer: the simulator sent an OAuth2 Bearer token instead of HTTP Basic")
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _run(args.seconds, args.connections, args.rounds)
    _inprocess_report()


if __name__ == "__main__":
    main()
