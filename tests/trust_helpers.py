"""Running ``bw-conformance`` as a user does (subprocesses), against a separately started ``serve``."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BIN = Path(sys.executable).parent / "bw-conformance"


def run_command(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``bw-conformance run ARGS`` with exactly ``env`` (plus PATH and HOME), output captured (not a TTY)."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd)}
    return subprocess.run(
        [str(BIN), "run", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    """A simulator running in its own process: its URL, its output lines as they come, the process."""

    base_url: str
    lines: queue.Queue[str]
    process: subprocess.Popen[str]


@contextmanager
def serve_process(argv: list[str], *, cwd: Path) -> Iterator[Served]:
    """Start ``argv`` (a ``serve`` command), wait for the URL it prints first, stop it with SIGINT."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=60)
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        yield Served(match.group(0), lines, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def serve(*args: str, cwd: Path) -> Iterator[str]:
    """``bw-conformance serve --port 0 ARGS`` in its own process; yields its base URL."""
    with serve_process([str(BIN), "serve", "--port", "0", *args], cwd=cwd) as served:
        yield served.base_url


class _Stalling(BaseHTTPRequestHandler):
    """Answers the preflight (no control API, statistics 200) and then never answers again."""

    stall_seconds = 120.0

    def log_message(self, format: str, *args: object) -> None:
        return

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith(("/_sim/", "/health")):
            self._answer(404, {"type": "not-found", "description": "no", "id": None})
        elif self.path.endswith("/statistics"):
            self._answer(200, {"currentCallQueueSize": 0, "maxCallQueueSize": 900})
        else:
            self._stall()

    def do_POST(self) -> None:
        self._stall()

    do_PUT = do_POST
    do_DELETE = do_POST

    def _stall(self) -> None:
        time.sleep(self.stall_seconds)


@contextmanager
def stalling_target() -> Iterator[str]:
    """A target that passes the preflight and then stalls on every request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stalling)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
