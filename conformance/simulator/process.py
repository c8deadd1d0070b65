"""The embedded simulator in a process of its own: :class:`SimulatorProcess`.

``bw-conformance run`` without ``--target`` starts the simulator this way.  In a thread of the run's
own process, every request the simulator answers and every webhook its call engine sends waits for
the interpreter lock that schemathesis' case generation holds most of the time; in a process of its
own it runs on another core (the api area spends about 6 s of simulator CPU beside 34 s of its own,
see ``bench/run.py``).  It is the same simulator, with the same defaults, as
``with Simulator() as sim:`` in-process.

The child never outlives the run: it stops when its standard input closes, which happens when the
run stops it and also when the run dies in any way (even SIGKILL).  It does not take Ctrl-C itself
(it is in a session of its own): the run decides when the simulator stops, after its last test and
report.  What the simulator writes to stderr is copied to the run's stderr line by line, through
whatever the run has put there (the run's redaction).
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO

from conformance.errors import SimulatorStartError

__all__ = ["SimulatorProcess"]

_READY = "bw-conformance-simulator-ready"
#: Seconds the child may take to import and bind before the run gives up on it.
START_TIMEOUT = 60.0
#: Seconds the child may take to stop (its graceful shutdown takes at most 5) before it is killed.
STOP_TIMEOUT = 20.0


class SimulatorProcess:
    """The embedded simulator, started in a child process, as a context manager.

    ``base_url`` (``http://127.0.0.1:PORT``) is set once it has started.  Raises
    :class:`~conformance.errors.SimulatorStartError` with the child's last words when it does not
    come up within :data:`START_TIMEOUT` seconds.
    """

    def __init__(self, *, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> SimulatorProcess:
        if self._process is not None:
            raise SimulatorStartError("the simulator is already running")
        environment = dict(os.environ)
        # The child imports this very package: from where this process found it, unless that place
        # is on the child's path anyway (an installed or editable package: then the path stays as
        # it is, and site-packages is never put before the standard library).  The child's path is
        # this one's without its first entry (the script's directory or the current one: see -P).
        root = str(Path(__file__).resolve().parents[2])
        if root not in {str(Path(entry or ".").resolve()) for entry in sys.path[1:]}:
            environment["PYTHONPATH"] = os.pathsep.join(p for p in (root, environment.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            # -P: the current directory does not go first on the child's path, where a project's own
            # package named `conformance` would be imported instead of this one.
            [sys.executable, "-P", "-m", "conformance.simulator.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=environment,
            start_new_session=True,  # Ctrl-C in the terminal reaches the run, not the simulator
        )
        self._process = process
        ready: queue.Queue[str | None] = queue.Queue()
        last_words: deque[str] = deque(maxlen=20)
        assert process.stdout is not None
        assert process.stderr is not None
        self._threads = [
            threading.Thread(target=_pump_stdout, args=(process.stdout, ready), daemon=True),
            threading.Thread(target=_pump_stderr, args=(process.stderr, last_words), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            line = ready.get(timeout=self.start_timeout)
        except queue.Empty:
            line = None
            cause = f"no answer within {self.start_timeout:g} s"
        except BaseException:  # Ctrl-C while it starts: it goes too
            self.stop(wait=False)
            raise
        else:
            cause = "it stopped before it was ready"
        if line is None:
            self.stop(wait=False)
            words = " | ".join(w.strip() for w in last_words if w.strip())
            shown = f" ({words})" if words else ""
            raise SimulatorStartError(f"the simulator did not start: {cause}{shown}")
        self.base_url = line.split(" ", 1)[1].strip()
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop the child: close its stdin and give it :data:`STOP_TIMEOUT` seconds to shut down
        gracefully (``wait=False``: half a second), then kill it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # the child's signal to stop
        try:
            process.wait(timeout=STOP_TIMEOUT if wait else 0.5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _pump_stdout(stream: IO[str], ready: queue.Queue[str | None]) -> None:
    """Hand the ready line over (``None`` if the output ends first), and copy every other line to
    the run's stdout."""
    waiting = True
    for line in stream:
        if waiting and line.startswith(_READY + " "):
            ready.put(line)
            waiting = False
        else:
            sys.stdout.write(line)
    if waiting:
        ready.put(None)
    stream.close()


def _pump_stderr(stream: IO[str], last_words: deque[str]) -> None:
    for line in stream:
        last_words.append(line)
        sys.stderr.write(line)  # looked up per line: the run may have redirected it since
        sys.stderr.flush()
    stream.close()


def _child() -> int:
    """The child's side: start the simulator, say where it is, run until stdin closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is the run's decision (stdin)
    from conformance.simulator.server import Simulator, tune_gc

    simulator = Simulator().start()
    tune_gc()  # a process that is only a simulator, as `serve`
    print(_READY, simulator.base_url, flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
