"""Fuzz an app's media-stream handler: play the platform's side of ``<StartStream>`` over a websocket.

Each session is one socket, generated from the run's seed and its index (so ``session=N`` replays
exactly one): realistic calls (``start``, 20 ms frames of silence, noise and DTMF, ``stop``), hostile
``start`` metadata and parameters, media of every length and content (empty, a byte, a second, bad
base64, unknown tracks), a duplicate ``start``, media before ``start``, no ``stop``, an abrupt close
without a close frame, and frames that are not protocol at all.

The app must keep the contract: complete the handshake and the close within the per-exchange
deadline (one total deadline for the socket, however it streams), never close with an error code
(1011, or a code other than 1000/1001 on a realistic call) or drop the connection without a close
frame, keep accepting connections (a probe call after every session), and, in bidirectional mode,
send only well-formed ``playAudio`` (valid base64 PCMU) or ``clear`` messages.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import zlib
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.streams import audio
from conformance.streams.protocol import check_app_message, decode_payload

KINDS = (
    "call",
    "hostile-start",
    "media-shapes",
    "duplicate-start",
    "media-before-start",
    "missing-stop",
    "abrupt-close",
    "garbage",
)
#: Close codes an app may use at any time; hostile sessions may also be refused as bad data.
FINE_CLOSE = frozenset({1000, 1001, 1005})  # 1005: a close frame with no code
FINE_CLOSE_HOSTILE = FINE_CLOSE | {1003, 1007, 1008, 1009}
_REALISTIC = frozenset({"call", "missing-stop", "abrupt-close"})
Ending = Literal["stop", "close", "abort"]


@dataclass(frozen=True)
class StreamFuzzSettings:
    """One frozen value for a run: how many sessions, which kinds, the deadline, the mode."""

    sessions: int = 40
    seed: int | None = None
    kinds: tuple[str, ...] | None = None
    only_session: int | None = None  # replay one session of the run (1-based), as a finding says
    bidirectional: bool = False
    timeout: float = 10.0  # total seconds for one socket: handshake, every message, the close
    linger: float = 0.3  # bidirectional: after stop, how long the app may still answer before the close
    auth: tuple[str, str] | None = None  # Basic auth on the upgrade (destinationUsername/Password)

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ConfigurationError("sessions must be at least 1", reason="bad-sessions")
        unknown = set(self.kinds or ()) - set(KINDS)
        if unknown or self.kinds == ():
            raise ConfigurationError(
                f"unknown session kind(s) {sorted(unknown)}; choose from {', '.join(KINDS)}",
                reason="bad-kinds",
            )
        if self.timeout <= 0 or self.linger < 0:
            raise ConfigurationError("timeout must be positive, linger not negative", reason="bad-timeout")


@dataclass(frozen=True)
class Plan:
    """What one session sends, in order, and how it ends."""

    kind: str
    index: int  # 1-based
    messages: tuple[str | bytes, ...]
    ending: Ending

    @property
    def hostile(self) -> bool:
        return self.kind not in _REALISTIC


@dataclass
class Exchange:
    """What happened on one socket."""

    replies: list[str | bytes] = field(default_factory=list)
    sent: int = 0
    connect_error: str | None = None
    timed_out: bool = False
    app_close_code: int | None = None  # the code of the app's close frame (its own or its answer)
    dropped: bool = False  # the connection ended without a close frame from the app
    elapsed: float = 0.0


@dataclass(frozen=True)
class StreamFinding:
    """One broken rule, with what was sent and how to replay just this session."""

    kind: str
    session: int
    check: str
    message: str
    sent: tuple[str, ...]
    replies: tuple[str, ...]
    reproduce: str

    def describe(self) -> str:
        lines = [f"{self.kind} (session {self.session}): {self.check}", f"  {self.message}"]
        shown = self.sent[:8]
        lines.extend(f"  sent: {line}" for line in shown)
        if len(self.sent) > len(shown):
            lines.append(f"  ... and {len(self.sent) - len(shown)} more message(s)")
        lines.extend(f"  reply: {line}" for line in self.replies[:3])
        lines.append(f"  reproduce: {self.reproduce}")
        return "\n".join(lines)


@dataclass
class KindStats:
    kind: str
    sessions: int = 0
    messages: int = 0
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_checks


@dataclass
class StreamFuzzReport:
    """The outcome of :func:`fuzz_stream`: findings, per-kind counters, the seed to replay."""

    url: str
    seed: int
    bidirectional: bool
    findings: list[StreamFinding] = field(default_factory=list)
    stats: dict[str, KindStats] = field(default_factory=dict)
    elapsed: float = 0.0
    slowest: float = 0.0  # the longest exchange, in seconds

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def sessions(self) -> int:
        return sum(s.sessions for s in self.stats.values())

    @property
    def sent(self) -> int:
        return sum(s.messages for s in self.stats.values())

    def checks_failed(self) -> set[tuple[str, str]]:
        return {(f.kind, f.check) for f in self.findings}

    def summary(self) -> str:
        verdict = "no problems found" if self.ok else f"{len(self.findings)} problem(s) found"
        mode = "bidirectional" if self.bidirectional else "unidirectional"
        return f"{self.sessions} sockets, {self.sent} messages ({mode}, seed {self.seed}): {verdict}"

    def format_text(self) -> str:
        lines = [self.summary()]
        for stat in self.stats.values():
            mark = "ok" if stat.ok else "FAIL " + ", ".join(stat.failed_checks)
            lines.append(f"  {stat.kind:<20} {stat.sessions:>4} sockets {stat.messages:>6} messages  {mark}")
        for finding in self.findings:
            lines.extend(("", finding.describe()))
        if self.findings:
            lines.extend(("", f"rerun with --seed {self.seed} to replay this run"))
        return "\n".join(lines)


# ------------------------------------------------------------------------------ generation
_HOSTILE_TEXT: tuple[Any, ...] = (
    "",
    " ",
    "\x00",
    "\u202e\u0000\ufffd",
    "😀" * 50,
    "<Response><Hangup/></Response>",
    "../../../etc/passwd",
    "%s%n%x",
    "' OR 1=1 --",
    "x" * 70_000,
    None,
    0,
    -1,
    1e308,
    True,
    [],
    {},
    [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
    {"nested": {"deeper": {"deepest": ["x"] * 100}}},
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hostile(self) -> Any:
        return self.rng.choice(_HOSTILE_TEXT)

    def tracks(self) -> list[str]:
        return self.rng.choice([["inbound"], ["outbound"], ["inbound", "outbound"]])

    def start(self, tracks: Sequence[str], *, params: int | None = None) -> dict[str, Any]:
        rng = self.rng
        stream_id = f"s-{rng.getrandbits(128):032x}"
        count = rng.randint(0, 3) if params is None else params
        return {
            "eventType": "start",
            "metadata": {
                "accountId": str(rng.randint(1_000_000, 9_999_999)),
                "callId": f"c-{rng.getrandbits(96):024x}-{rng.getrandbits(64):016x}",
                "streamId": stream_id,
                "streamName": rng.choice([stream_id, "agent", "live_audio", "stream-1"]),
                "tracks": [
                    {"name": name, "mediaFormat": {"encoding": "audio/PCMU", "sampleRate": 8000}}
                    for name in tracks
                ],
            },
            "streamParams": {f"param{i}": rng.choice(["sales", "42", "en-US", ""]) for i in range(count)},
        }

    def hostile_start(self) -> dict[str, Any]:
        rng = self.rng
        start = self.start(self.tracks())
        metadata = start["metadata"]
        for _ in range(rng.randint(1, 4)):
            choice = rng.randrange(8)
            key = rng.choice(sorted(metadata))
            if choice == 0:
                metadata[key] = self.hostile()
            elif choice == 1:
                del metadata[key]
                if not metadata:
                    break
            elif choice == 2:
                metadata["tracks"] = rng.choice(
                    ["inbound", [], [{"name": "sideways"}], [{"name": "inbound"}] * 100, [None], [{}]]
                )
            elif choice == 3:
                metadata["tracks"] = [{"name": "inbound", "mediaFormat": self.hostile()}]
            elif choice == 4:
                start["streamParams"] = {f"p{i}": "v" * 2048 for i in range(12)}
            elif choice == 5:
                start["streamParams"] = self.hostile()
            elif choice == 6:
                start["metadata"] = self.hostile()
                break
            else:
                metadata[str(self.hostile())[:40]] = self.hostile()
        return start

    def audio(self, length: int) -> bytes:
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return audio.silence(length / audio.SAMPLE_RATE)
        if kind == 1:
            return rng.randbytes(length)
        if kind == 2:
            return (audio.dtmf(rng.choice("0123456789*#"), tone=0.08, gap=0.04) * (length // 960 + 1))[
                :length
            ]
        if kind == 3:
            return bytes([rng.choice((0x00, 0x80))]) * length  # full scale, both signs
        return audio.tones([rng.uniform(100, 3900)], length / audio.SAMPLE_RATE)[:length] or b"\xff"

    def media(self, track: str, data: bytes) -> str:
        return _dump({"eventType": "media", "track": track, "payload": _b64(data)})

    def call_media(self, tracks: Sequence[str], frames: int) -> list[str]:
        """``frames`` 20 ms frames per track of one continuous scene: silence, DTMF digits, noise, tones."""
        rng = self.rng
        scene = bytearray()
        while len(scene) < frames * audio.FRAME_BYTES:
            part = rng.randrange(4)
            if part == 0:
                scene += audio.silence(rng.uniform(0.04, 0.4))
            elif part == 1:
                scene += audio.dtmf("".join(rng.choices("0123456789*#", k=rng.randint(1, 4))))
            else:
                scene += self.audio(rng.randint(80, 1600))
        out: list[str] = []
        for start in range(0, frames * audio.FRAME_BYTES, audio.FRAME_BYTES):
            frame = bytes(scene[start : start + audio.FRAME_BYTES])
            out.extend(self.media(track, frame) for track in tracks)
        return out

    def odd_media(self, tracks: Sequence[str]) -> str:
        rng = self.rng
        choice = rng.randrange(9)
        if choice == 0:
            return self.media(rng.choice(tracks), self.audio(rng.choice([1, 2, 159, 161, 799, 8000, 32_000])))
        if choice == 1:
            return _dump({"eventType": "media", "track": rng.choice(tracks), "payload": ""})
        if choice == 2:
            return _dump({"eventType": "media", "track": rng.choice(tracks), "payload": "!!not base64!!"})
        if choice == 3:
            unpadded = _b64(self.audio(161)).rstrip("=")
            return _dump({"eventType": "media", "track": rng.choice(tracks), "payload": unpadded})
        if choice == 4:
            return self.media(rng.choice(["sideways", "", "INBOUND"]), self.audio(160))
        if choice == 5:
            return _dump({"eventType": "media", "track": rng.choice(tracks), "payload": self.hostile()})
        if choice == 6:
            return _dump({"eventType": "media", "track": rng.choice(tracks)})
        if choice == 7:
            return _dump({"eventType": "media", "track": self.hostile(), "payload": _b64(b"\xff" * 160)})
        return self.media(rng.choice(tracks), self.audio(rng.randint(1, 4000)))

    def garbage(self) -> str | bytes:
        rng = self.rng
        choices: list[str | bytes] = [
            rng.randbytes(rng.randint(0, 400)),
            "not json at all",
            "{",
            "[1, 2, 3]",
            '"start"',
            "null",
            _dump({"eventType": rng.choice(["", "bogus", "playAudio", "clear", "transcription"])}),
            _dump({"eventType": self.hostile()}),
            _dump({"eventType": "stop"}),
            "[" * 10_000 + "]" * 10_000,
        ]
        return rng.choice(choices)


def plan_session(seed: int, index: int, kind: str) -> Plan:
    """The messages of session ``index`` (1-based) of kind ``kind`` for ``seed``: deterministic."""
    rng = random.Random(zlib.crc32(f"{seed}:{index}:{kind}".encode()))
    gen = _Generator(rng)
    tracks = gen.tracks()
    stop = _dump({"eventType": "stop"})
    messages: list[str | bytes] = []
    ending: Ending = "stop"
    if kind == "call":
        messages = [_dump(gen.start(tracks)), *gen.call_media(tracks, rng.randint(1, 60)), stop]
    elif kind == "hostile-start":
        messages = [_dump(gen.hostile_start()), *gen.call_media(tracks, rng.randint(0, 5)), stop]
    elif kind == "media-shapes":
        odd = [gen.odd_media(tracks) for _ in range(rng.randint(1, 12))]
        messages = [_dump(gen.start(tracks)), *odd, *gen.call_media(tracks, 2), stop]
    elif kind == "duplicate-start":
        first = gen.call_media(tracks, rng.randint(0, 5))
        messages = [
            _dump(gen.start(tracks)),
            *first,
            _dump(gen.start(gen.tracks())),
            *gen.call_media(tracks, 3),
        ]
        messages.append(stop)
    elif kind == "media-before-start":
        messages = [
            *gen.call_media(tracks, rng.randint(1, 5)),
            _dump(gen.start(tracks)),
            *gen.call_media(tracks, 2),
        ]
        messages.append(stop)
    elif kind == "missing-stop":
        messages = [_dump(gen.start(tracks)), *gen.call_media(tracks, rng.randint(0, 20))]
        ending = "close"
    elif kind == "abrupt-close":
        messages = [_dump(gen.start(tracks)), *gen.call_media(tracks, rng.randint(0, 20))]
        ending = "abort"
    elif kind == "garbage":
        noise = [gen.garbage() for _ in range(rng.randint(1, 8))]
        messages = [*noise, _dump(gen.start(tracks)), gen.garbage(), *gen.call_media(tracks, 2), stop]
    else:
        raise ConfigurationError(f"unknown session kind {kind!r}", reason="bad-kinds")
    return Plan(kind, index, tuple(messages), ending)


def _probe_plan() -> Plan:
    gen = _Generator(random.Random(0))
    messages = (
        _dump(gen.start(["inbound"], params=0)),
        *gen.call_media(["inbound"], 3),
        _dump({"eventType": "stop"}),
    )
    return Plan("probe", 0, messages, "stop")


# ------------------------------------------------------------------------------ running
async def _exchange(url: str, plan: Plan, options: StreamFuzzSettings) -> Exchange:
    result = Exchange()
    began = time.monotonic()
    headers: dict[str, str] = {}
    if options.auth is not None:
        token = base64.b64encode(f"{options.auth[0]}:{options.auth[1]}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    socket: ClientConnection | None = None
    try:
        # websockets' own open_timeout, not a cancellation, bounds the handshake: it closes the
        # half-open connection itself; the rest of the exchange gets what is left of the deadline.
        socket = await connect(
            url,
            additional_headers=headers,
            proxy=None,
            compression=None,
            open_timeout=options.timeout,
            close_timeout=None,
            ping_interval=None,
            max_size=1 << 20,
            user_agent_header="bw-conformance fuzz-stream",
        )
    except TimeoutError:
        result.timed_out = True
    except (OSError, InvalidHandshake) as exc:
        result.connect_error = f"{type(exc).__name__}: {exc}"
    if socket is None:
        result.elapsed = time.monotonic() - began
        return result
    try:
        async with asyncio.timeout_at(
            asyncio.get_running_loop().time() + options.timeout - (time.monotonic() - began)
        ):
            reader = asyncio.create_task(_read(socket, result))
            try:
                for message in plan.messages:
                    await socket.send(message)
                    result.sent += 1
            except ConnectionClosed:
                pass  # the app closed first: judged from its close frame below
            if plan.ending == "abort":
                socket.transport.abort()
            else:
                if plan.ending == "stop" and options.bidirectional and options.linger:
                    await asyncio.wait({reader}, timeout=options.linger)
                await socket.close(1000)
            await reader
    except TimeoutError:
        result.timed_out = True
        socket.transport.abort()
        await socket.wait_closed()
    finally:
        result.elapsed = time.monotonic() - began
    if plan.ending != "abort" and not result.timed_out:
        received = socket.protocol.close_rcvd
        if received is None:
            result.dropped = True
        else:  # the app's own close, or its answer to ours (which echoes 1000 when all is well)
            result.app_close_code = received.code
    return result


async def _read(socket: ClientConnection, result: Exchange) -> None:
    try:
        async for message in socket:
            result.replies.append(message)
    except ConnectionClosed:
        pass


def _excerpt(message: str | bytes, limit: int = 160) -> str:
    if isinstance(message, bytes):
        return f"<binary frame of {len(message)} bytes>"
    try:
        value = json.loads(message)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        value = _shorten(value)
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = message
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _shorten(value: Any, depth: int = 0) -> Any:
    if depth > 4:
        return "..."
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            data = decode_payload(item) if key == "payload" else None
            out[key] = f"<base64 of {len(data)} bytes>" if data is not None else _shorten(item, depth + 1)
        return out
    if isinstance(value, list):
        return [_shorten(v, depth + 1) for v in value[:4]] + (["..."] if len(value) > 4 else [])
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:40]}...({len(value)} chars)"
    return value


def judge(plan: Plan, result: Exchange, options: StreamFuzzSettings) -> list[tuple[str, str]]:
    """``[(check, message), ...]`` for what the app did wrong on one socket."""
    found: list[tuple[str, str]] = []
    if result.connect_error is not None:
        return [("refused", f"the handshake failed: {result.connect_error}")]
    if result.timed_out:
        found.append(
            (
                "deadline",
                f"the exchange was not over after {options.timeout:g} s ({result.sent} message(s) sent)",
            )
        )
    if result.dropped:
        found.append(("dropped", "the app ended the connection without a close frame"))
    fine = FINE_CLOSE_HOSTILE if plan.hostile else FINE_CLOSE
    if result.app_close_code is not None and result.app_close_code not in fine:
        found.append(("error-close", f"the app closed with code {result.app_close_code}"))
    if options.bidirectional:
        for position, reply in enumerate(result.replies):
            problem = check_app_message(reply)
            if problem is not None:
                found.append(("bad-reply", f"reply {position + 1}: {problem}"))
                break
    return found


ProgressHook = Callable[[int, int], None]


async def _fuzz(
    url: str, options: StreamFuzzSettings, seed: int, progress: ProgressHook | None
) -> StreamFuzzReport:
    report = StreamFuzzReport(url=url, seed=seed, bidirectional=options.bidirectional)
    began = time.monotonic()
    probe = _probe_plan()
    first = await _exchange(url, probe, options)
    if first.connect_error is not None or first.timed_out:
        why = first.connect_error or f"no complete exchange within {options.timeout:g} s"
        raise TargetUnreachableError(f"the stream handler at {url} does not answer: {why}")
    kinds = options.kinds or KINDS
    indexes = [options.only_session] if options.only_session else range(1, options.sessions + 1)
    for position, index in enumerate(indexes, start=1):
        kind = kinds[(index - 1) % len(kinds)]
        plan = plan_session(seed, index, kind)
        result = await _exchange(url, plan, options)
        stats = report.stats.setdefault(kind, KindStats(kind))
        stats.sessions += 1
        stats.messages += result.sent
        report.slowest = max(report.slowest, result.elapsed)
        problems = judge(plan, result, options)
        after = await _exchange(url, probe, options)
        if after.connect_error is not None or after.timed_out or after.dropped:
            problems.append(("down", "after this session the app no longer completes a plain call"))
        for check, message in problems:
            if check not in stats.failed_checks:
                stats.failed_checks.append(check)
            report.findings.append(_finding(url, plan, result, check, message, options, seed))
        if progress is not None:
            progress(position, len(indexes))
        if any(check == "down" for check, _ in problems):
            break
    report.elapsed = time.monotonic() - began
    return report


def _finding(
    url: str, plan: Plan, result: Exchange, check: str, message: str, options: StreamFuzzSettings, seed: int
) -> StreamFinding:
    command = ["bw-conformance", "fuzz-stream", url, "--seed", str(seed), "--session", str(plan.index)]
    if options.kinds:
        command += ["--kinds", ",".join(options.kinds)]
    if options.bidirectional:
        command.append("--bidirectional")
    return StreamFinding(
        kind=plan.kind,
        session=plan.index,
        check=check,
        message=message,
        sent=(*(_excerpt(m) for m in plan.messages), f"<then {plan.ending}>"),
        replies=tuple(_excerpt(m) for m in result.replies[:3]),
        reproduce=" ".join(command),
    )


def _run(job: Coroutine[Any, Any, StreamFuzzReport]) -> StreamFuzzReport:
    """``asyncio.run(job)``; from async code (an async test), on a worker thread's own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: no event loop in this thread
        return asyncio.run(job)
    with ThreadPoolExecutor(1, thread_name_prefix="fuzz-stream") as pool:
        return pool.submit(asyncio.run, job).result()


def fuzz_stream(url: str, *, progress: ProgressHook | None = None, **options: Any) -> StreamFuzzReport:
    """Fuzz the stream handler at ``url`` (``ws://`` or ``wss://``); options as :class:`StreamFuzzSettings`.

    Raises :class:`TargetUnreachableError` when a plain call cannot be completed at the start, and
    :class:`ConfigurationError` for a URL that is not a websocket URL.
    """
    if not url.startswith(("ws://", "wss://")):
        raise ConfigurationError(
            f"the stream URL must start with ws:// or wss://, not {url!r}", reason="bad-url"
        )
    settings = StreamFuzzSettings(**options)
    seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**32)
    try:
        return _run(_fuzz(url, settings, seed, progress))
    except InvalidURI as exc:
        raise ConfigurationError(f"not a websocket URL: {url!r}", reason="bad-url") from exc


class StreamFuzzer:
    """The ``bw_fuzz_stream`` fixture: :func:`fuzz_stream` with per-session defaults, keeping reports."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.reports: list[StreamFuzzReport] = []

    def __call__(self, url: str, **options: Any) -> StreamFuzzReport:
        report = fuzz_stream(url, **{**self.defaults, **options})
        self.reports.append(report)
        return report

    def assert_clean(self, url: str, **options: Any) -> StreamFuzzReport:
        """Fuzz ``url`` and fail the test with every finding and its replay command if any."""
        import pytest

        report = self(url, **options)
        if not report.ok:
            pytest.fail(report.format_text(), pytrace=False)
        return report


__all__ = [
    "KINDS",
    "KindStats",
    "Plan",
    "StreamFinding",
    "StreamFuzzReport",
    "StreamFuzzSettings",
    "StreamFuzzer",
    "fuzz_stream",
    "judge",
    "plan_session",
]
