"""How many concurrent one-track media streams the simulator sustains in real time.

Two phases against the same websocket receiver, which runs in a process of its own and notes
when every ``media`` frame arrives:

* **plain**: N plain ``websockets`` clients in this process, each sending a 160-byte PCMU frame
  (the simulator's message format) every 20 ms with ``asyncio.sleep`` pacing: what the library
  and this machine manage without a simulator;
* **simulator**: N calls on an in-process simulator, each ``<StartStream>``-ing its inbound
  track to the receiver during a ``<Pause>``.

For each stream the receiver measures every frame's lag behind its schedule (the first frame's
arrival plus 20 ms per frame) and the gaps between frames.  A phase sustains real time when every
stream's frames arrive with no gap over 100 ms and no frame more than 100 ms behind schedule, and
the frame count matches the stream's length.

    .venv/bin/python bench/streams.py --streams 50,100,150 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.simulator import Simulator
from conformance.simulator.engine import Engine, engine_factory

ACCOUNT = "9900000"
APP_ID = "11111111-1111-4111-8111-111111111111"
AUTH = ("bw-user", "bw-pass")
FRAME = 0.02
LATE = 0.1  # seconds behind schedule (or between frames) that count as a failure of real time


# ------------------------------------------------------------------------------ the receiver


def _receiver(pipe: Connection) -> None:
    """Runs in its own process: a websocket server noting each media frame's arrival."""
    from websockets.asyncio.server import ServerConnection, serve

    arrivals: dict[int, list[float]] = {}

    async def handle(ws: ServerConnection) -> None:
        times = arrivals.setdefault(id(ws), [])
        async for text in ws:
            if '"media"' in text[:40]:
                times.append(time.monotonic())

    async def main() -> None:
        async with serve(handle, "127.0.0.1", 0, compression=None, max_queue=None) as server:
            pipe.send(server.sockets[0].getsockname()[1])
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, pipe.recv)
                if command == "stop":
                    return
                pipe.send(list(arrivals.values()))
                arrivals.clear()

    asyncio.run(main())


@dataclass
class Phase:
    name: str
    streams: int
    seconds: float
    frames: list[int]
    max_lag: list[float]  # per stream: its worst frame's lag behind schedule
    max_gap: list[float]  # per stream: its longest silence between two frames
    lags: list[float]  # every frame's lag
    steady: list[float]  # lags of the frames that arrived once every stream had started

    @property
    def sustained(self) -> bool:
        expected = self.seconds / FRAME
        return (
            len(self.frames) == self.streams
            and all(abs(n - expected) <= 3 for n in self.frames)
            and max(self.max_lag, default=0) <= LATE
            and max(self.max_gap, default=0) <= LATE
        )

    def line(self) -> str:
        def p99(values: list[float]) -> float:
            ordered = sorted(values) or [0.0]
            return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

        late = sum(1 for lag in self.lags if lag > LATE) / max(1, len(self.lags))
        worst = max(self.max_lag, default=0) * 1000
        gap = max(self.max_gap, default=0) * 1000
        return (
            f"{self.name:<10} {self.streams:>4} streams x {self.seconds:g} s: "
            f"frames/stream {min(self.frames, default=0)}-{max(self.frames, default=0)} "
            f"(expected {self.seconds / FRAME:.0f}); lag p99 {p99(self.lags):.0f} ms, "
            f"once all had started p99 {p99(self.steady):.0f} ms, worst {worst:.0f} ms; "
            f"frames >{LATE * 1000:.0f} ms late {late:.2%}; largest gap {gap:.0f} ms"
            f" -> {'real time' if self.sustained else 'NOT real time'}"
        )


def _phase(name: str, streams: int, seconds: float, arrivals: list[list[float]]) -> Phase:
    all_started = max((t[0] for t in arrivals if t), default=0.0)
    max_lags: list[float] = []
    gaps: list[float] = []
    lags: list[float] = []
    steady: list[float] = []
    for times in arrivals:
        if not times:
            continue
        first = times[0]
        mine = [t - (first + i * FRAME) for i, t in enumerate(times)]
        lags.extend(mine)
        steady.extend(lag for lag, t in zip(mine, times, strict=True) if t > all_started)
        max_lags.append(max(mine))
        gaps.append(max((b - a for a, b in itertools.pairwise(times)), default=0.0))
    return Phase(name, streams, seconds, [len(t) for t in arrivals], max_lags, gaps, lags, steady)


# ------------------------------------------------------------------------------ plain senders


async def _plain(port: int, streams: int, seconds: float) -> None:
    from websockets.asyncio.client import connect

    payload = base64.b64encode(b"\xff" * 160).decode()
    frame = json.dumps({"eventType": "media", "track": "inbound", "payload": payload})

    async def one() -> None:
        async with connect(f"ws://127.0.0.1:{port}/plain", compression=None, proxy=None) as ws:
            await ws.send(json.dumps({"eventType": "start"}))
            start = time.monotonic()
            for i in range(round(seconds / FRAME)):
                delay = start + (i + 1) * FRAME - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await ws.send(frame)
            await ws.send(json.dumps({"eventType": "stop"}))

    await asyncio.gather(*(one() for _ in range(streams)))


# ------------------------------------------------------------------------------ simulator


class _App(BaseHTTPRequestHandler):
    bxml = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/answer":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(self.bxml)))
            self.end_headers()
            self.wfile.write(self.bxml)
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _simulated(
    sim: Simulator, engine: Engine, app_port: int, ws_port: int, streams: int, seconds: float
) -> None:
    _App.bxml = (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><StartStream name="s" '
        f'destination="ws://127.0.0.1:{ws_port}/sim"/><Pause duration="{seconds}"/>'
        '<StopStream name="s"/></Response>'
    ).encode()
    with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=30) as http:
        for _ in range(streams):
            body = {
                "from": "+19195550100",
                "to": "+19995550000",
                "applicationId": APP_ID,
                "answerUrl": f"http://127.0.0.1:{app_port}/answer",
                "disconnectUrl": f"http://127.0.0.1:{app_port}/status",
            }
            response = http.post(f"/accounts/{ACCOUNT}/calls", json=body)
            if response.status_code != 201:
                raise SystemExit(f"createCall answered {response.status_code}: {response.text[:200]}")
    deadline = time.monotonic() + seconds * 3 + 60
    while engine.running_tasks() and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", default="100", help="comma-separated stream counts (100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of every stream (10)")
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    ours, theirs = multiprocessing.Pipe()
    receiver = multiprocessing.get_context("spawn").Process(target=_receiver, args=(theirs,), daemon=True)
    receiver.start()
    ws_port = ours.recv()
    app = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    results: list[Phase] = []
    try:
        with Simulator(engine_factory=engine_factory) as sim:
            engine = sim.runtime.engine
            assert isinstance(engine, Engine)
            engine.base_url = sim.base_url
            for streams in counts:
                asyncio.run(_plain(ws_port, streams, args.seconds))
                ours.send("report")
                results.append(_phase("plain", streams, args.seconds, ours.recv()))
                print(results[-1].line(), flush=True)
                _simulated(sim, engine, app.server_address[1], ws_port, streams, args.seconds)
                ours.send("report")
                results.append(_phase("simulator", streams, args.seconds, ours.recv()))
                print(results[-1].line(), flush=True)
            errors = list(engine.errors)
    finally:
        ours.send("stop")
        receiver.join(10)
        app.shutdown()
    print(f"simulator errors {len(errors)}{': ' + errors[0] if errors else ''}")
    print(f"machine          {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    best = max((p.streams for p in results if p.name == "simulator" and p.sustained), default=0)
    print(f"sustained        {best} concurrent one-track streams in real time (of those tried)")


if __name__ == "__main__":
    main()
