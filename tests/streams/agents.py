"""The example stream agent (``examples/stream_agent.py``), copies of it with one planted bug each,
and a way to serve any of them on 127.0.0.1 from a background thread."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from websockets.asyncio.server import serve

_PATH = Path(__file__).resolve().parents[2] / "examples" / "stream_agent.py"


def load(name: str = "stream_agent_example", replace: tuple[str, str] | None = None) -> ModuleType:
    """The example's module, or a copy whose source has one exact snippet replaced (which must occur)."""
    source = _PATH.read_text(encoding="utf-8")
    if replace is not None:
        old, new = replace
        assert source.count(old) == 1, f"the example no longer contains {old!r}"
        source = source.replace(old, new)
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(_PATH))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    exec(compile(source, str(_PATH), "exec"), module.__dict__)  # our own example's source
    return module


agent_module = load()

#: Copies of the agent with one bug each: the check fuzz-stream must report for it.
BROKEN: dict[str, tuple[tuple[str, str], str]] = {
    # answers in a format the platform does not play
    "wrong-content-type": (('"contentType": "audio/pcmu"', '"contentType": "audio/wav"'), "bad-reply"),
    # trusts every text frame to be a JSON object: the handler dies on the first that is not
    "trusts-json": (("message = _json_object(raw)", "message = json.loads(raw)"), "error-close"),
}


@contextmanager
def serving_handler(handler: Any, **options: Any) -> Iterator[str]:
    """Serve a websockets ``handler`` on 127.0.0.1:0 from a thread; yield its ``ws://`` URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        server = await serve(handler, "127.0.0.1", 0, close_timeout=1, **options)
        box["server"] = server
        started.set()
        await server.wait_closed()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    server = box["server"]
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/agent"
    finally:
        loop.call_soon_threadsafe(server.close)
        thread.join(10)
        if thread.is_alive():  # a handler that never returns: cancel what is left
            loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
            thread.join(10)
        loop.close()


def serving(agent: Any) -> AbstractContextManager[str]:
    """Serve an ``Agent`` of the example (or of a broken copy) as the example's ``main`` does."""
    return serving_handler(agent.handle, max_size=1 << 16)
