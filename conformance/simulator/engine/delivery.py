"""Webhook delivery: one HTTP request per event, with auth, timeout, fallback and retry.

A :class:`Target` says where an event goes (URL, method, Basic credentials and the fallback).
:meth:`Deliverer.send` posts JSON (``POST``) or query parameters (``GET``), waits at most the
callback timeout, and on a failure of the primary URL (5xx, timeout, refused connection, a broken
or oversized reply, a URL that cannot be requested) tries the fallback.  Asynchronous events (no
BXML reply) get one more try to the same URL after a refused connection, as the platform documents.
While a request is in flight the virtual clock is held still.

Every way a webhook can fail, building the request included, ends in :class:`DeliveryError`
(cause ``callback-error``); nothing else escapes :meth:`Deliverer.send` except cancellation.

The client is aiohttp's (``ClientSession`` over a keep-alive ``TCPConnector``), for ``http://``
and ``https://`` alike.  A reply is read whole, whatever its framing (``Content-Length``, chunked,
or until the app closes the connection), at most :data:`MAX_REPLY_BYTES`, all within one deadline
per attempt.  :attr:`Reply.body` decodes it as the BXML validator does: UTF-8, strictly.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import json
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import httpx
from yarl import URL

from conformance.errors import ConformanceError
from conformance.simulator.clock import VirtualClock
from conformance.simulator.egress import EgressPolicy
from conformance.simulator.engine.documents import InvalidBxml
from conformance.simulator.models import Callback, Method

USER_AGENT = "BandwidthAPI/v2 (bw-conformance simulator)"

#: Largest webhook reply read.  BXML is limited to 64 KB; a bigger reply is refused (the validator
#: would refuse it anyway), and one beyond this cap is not even read: ``callback-error``.
MAX_REPLY_BYTES = 1024 * 1024

#: How many distinct callback URLs keep their parsed form and egress verdict (a call's handful
#: repeats for every webhook; a fuzzer's random ones just cycle through).
_URL_CACHE_SIZE = 1024


class DeliveryError(ConformanceError, ConnectionError):
    """No URL of a target accepted the webhook; ``reason`` is ``callback-error``."""

    reason = "callback-error"

    def __init__(self, message: str, *, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class Target:
    """Where and how one event is delivered."""

    url: str
    method: Method = "POST"
    username: str | None = None
    password: str | None = None
    fallback_url: str | None = None
    fallback_method: Method = "POST"
    fallback_username: str | None = None
    fallback_password: str | None = None

    @classmethod
    def from_callback(cls, callback: Callback) -> Target | None:
        if not callback.url:
            return None
        return cls(**dataclasses.asdict(callback))  # the same fields, frozen


@dataclass(frozen=True)
class Reply:
    """What the app answered: status, the body's bytes, content type and the URL that served it."""

    status: int
    raw: bytes
    content_type: str
    url: str

    @property
    def body(self) -> str:
        """The body as the BXML validator reads it: UTF-8, strictly (``InvalidBxml`` otherwise).

        The ``charset`` of the content type is not consulted: BXML is UTF-8 whatever the app says.
        """
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidBxml(
                f"invalid BXML: byte {exc.start} of the reply is not valid UTF-8 ({exc.reason})"
            ) from None


def method_of(value: str | None, default: Method = "POST") -> Method:
    """A BXML ``*Method`` attribute as ``GET``/``POST`` (validated BXML only has these)."""
    if value is None or value == "":
        return default
    return "GET" if value.strip().upper() == "GET" else "POST"


#: Resolved callback URLs by (base, url): a document's few relative URLs are resolved again for
#: every call that runs it (urljoin was 1-2% of the engine's CPU).  Pairs longer than
#: :data:`_RESOLVED_MAX_CHARS` are not kept: with their results, at most ~8 MB of text in all.
_RESOLVED: dict[tuple[str | None, str], str] = {}
_RESOLVED_SIZE = 2048
_RESOLVED_MAX_CHARS = 2048


def resolve(base: str | None, url: str | None) -> str | None:
    """``url`` resolved against the URL that served the document it came from."""
    if url is None:
        return None
    key = (base, url)
    found = _RESOLVED.get(key)
    if found is not None:
        return found
    stripped = url.strip()
    if stripped == "":
        return None
    result = stripped if base is None or urlsplit(stripped).scheme else urljoin(base, stripped)
    if len(url) + len(base or "") <= _RESOLVED_MAX_CHARS:
        if len(_RESOLVED) >= _RESOLVED_SIZE:
            _RESOLVED.clear()
        _RESOLVED[key] = result
    return result


def _query(payload: Mapping[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in payload.items():
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            params[key] = json.dumps(value, separators=(",", ":"))
        else:
            params[key] = str(value)
    return params


def query_url(url: str, payload: Mapping[str, Any]) -> str:
    """``url`` with ``payload`` appended as query parameters (a GET webhook).

    Text that UTF-8 cannot encode (a lone surrogate in a tag) is sent as ``?``, as a Java
    platform's encoder does, instead of failing the webhook.
    """
    query = urlencode(_query(payload), encoding="utf-8", errors="replace")
    base = url.partition("#")[0]
    if not query:
        return base
    return f"{base}{'&' if urlsplit(base).query else '?'}{query}"


def basic_authorization(username: str, password: str | None) -> str:
    token = f"{username}:{password or ''}".encode("utf-8", "replace")
    return "Basic " + base64.b64encode(token).decode("ascii")


_Kind = Literal["connect", "timeout", "broken", "invalid-url"]


class _AttemptFailed(Exception):
    """One request did not get a reply; ``kind`` decides whether it is retried."""

    def __init__(self, kind: _Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: Set by :meth:`_Connector.connect` for the request being sent by the current task.
_REUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("webhook_connection_reused", default=False)


class _Connector(aiohttp.TCPConnector):
    """A keep-alive pool that tells whether a request went out on a connection used before.

    An app may close an idle keep-alive connection just as a webhook is written to it; only then
    is a request retried on a fresh connection (a webhook is a POST, which aiohttp never retries).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: weakref.WeakSet[object] = weakref.WeakSet()

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        _REUSED.set(protocol in self._seen)  # same task as the request: the caller sees it
        if protocol is not None:
            self._seen.add(protocol)
        return connection


class Deliverer:
    """Sends webhooks with one shared aiohttp session (created on first use, on the running loop)."""

    def __init__(
        self, clock: VirtualClock, *, max_connections: int = 512, max_reply_bytes: int = MAX_REPLY_BYTES
    ) -> None:
        self.clock = clock
        self.max_reply_bytes = max_reply_bytes
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._client: httpx.AsyncClient | None = None
        self.sent = 0
        self.failed = 0
        self.attempts: Counter[str] = Counter()  # requests tried, by URL (retries and fallbacks count)
        self.egress = EgressPolicy()  # the simulator sets its configured policy
        # Per URL string: the policy it was checked against, its verdict and its parsed form.
        self._urls: dict[str, tuple[EgressPolicy, bool, URL | None]] = {}

    def _http(self) -> httpx.AsyncClient:
        """An httpx client for requests other than webhooks (PlayAudio fetches)."""
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections, max_keepalive_connections=self._max_connections
            )
            self._client = httpx.AsyncClient(
                limits=limits, follow_redirects=False, headers={"User-Agent": USER_AGENT}, trust_env=False
            )
        return self._client

    def _webhooks(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = _Connector(limit=self._max_connections, limit_per_host=self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the platform keeps no cookies between webhooks
                timeout=aiohttp.ClientTimeout(total=None),  # one deadline per attempt, set by _once
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _allowed(self, url: str) -> tuple[bool, URL | None]:
        """Whether the egress policy lets ``url`` through, and its parsed form (``None``: unparsable).

        Both are kept per URL string (until the policy changes): a call's few callback URLs are
        checked and parsed once, not for every webhook.
        """
        cached = self._urls.get(url)
        if cached is not None and cached[0] == self.egress:
            return cached[1], cached[2]
        allowed = self.egress.allows(url)
        try:
            parsed: URL | None = URL(url)
        except (ValueError, TypeError, UnicodeError):
            parsed = None
        if len(self._urls) >= _URL_CACHE_SIZE:
            self._urls.clear()
        self._urls[url] = (self.egress, allowed, parsed)
        return allowed, parsed

    def _request(
        self,
        url: URL,
        method: Method,
        username: str | None,
        password: str | None,
        payload: Mapping[str, Any],
    ) -> tuple[URL, dict[str, str], bytes | None]:
        headers: dict[str, str] = {}
        if username:
            headers["Authorization"] = basic_authorization(username, password)
        if method == "GET":
            return URL(query_url(str(url), payload)), headers, None
        headers["Content-Type"] = "application/json"
        return url, headers, json.dumps(payload, separators=(",", ":")).encode()

    async def _once(
        self,
        url: str,
        method: Method,
        username: str | None,
        password: str | None,
        payload: Mapping[str, Any],
        timeout: float,
    ) -> Reply:
        """One attempt; the reply, or :class:`_AttemptFailed` (never another ``Exception``)."""
        self.attempts[url] += 1
        allowed, parsed = self._allowed(url)
        if not allowed:
            try:
                refusal = self.egress.refusal(url)
            except ValueError:
                refusal = f"the simulator cannot send requests to {url!r}"
            raise _AttemptFailed("connect", refusal)
        if parsed is None:
            raise _AttemptFailed("invalid-url", f"cannot request {url!r}: not a valid URL")
        try:
            address, headers, body = self._request(parsed, method, username, password, payload)
        except (ValueError, TypeError, UnicodeError) as exc:
            raise _AttemptFailed("invalid-url", f"cannot request {url!r}: {exc}") from None
        self.clock.hold()  # as clock.busy(), without a generator per webhook
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(method, address, headers, body)
        except TimeoutError:
            raise _AttemptFailed("timeout", f"no answer within {timeout:g} s") from None
        finally:
            self.clock.release()

    async def _exchange(self, method: Method, url: URL, headers: dict[str, str], body: bytes | None) -> Reply:
        session = self._webhooks()
        for fresh in (False, True):
            _REUSED.set(False)
            answered = False
            try:
                async with session.request(
                    method, url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    answered = True
                    if not 200 <= response.status < 300:
                        return Reply(response.status, b"", response.content_type, str(url))
                    raw = await self._read(response)
                    ctype = response.headers.get("Content-Type", "")
                    return Reply(response.status, raw, ctype, str(response.url))
            except aiohttp.ServerDisconnectedError as exc:
                if _REUSED.get() and not answered and not fresh:
                    continue  # the app closed an idle keep-alive connection: once more on a new one
                message = f"the connection closed before a whole reply ({exc})"
                raise _AttemptFailed("broken", message) from None
            except aiohttp.ClientConnectorError as exc:
                raise _AttemptFailed("connect", str(exc)) from None
            except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
                raise _AttemptFailed("invalid-url", f"cannot request {url!r}: {type(exc).__name__}") from None
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                message = f"{type(exc).__name__}: {exc}".rstrip(": ")
                raise _AttemptFailed("broken", message) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.max_reply_bytes
        too_big = f"the reply is larger than {cap} bytes (BXML is limited to 64 KB); not read"
        length = response.content_length
        if length is not None and "Content-Encoding" not in response.headers:
            # The usual reply: its size is known and it arrives as sent, so it is read in one go.
            if length > cap:
                raise _AttemptFailed("broken", too_big)
            return await response.read()
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise _AttemptFailed("broken", too_big)
            parts.append(chunk)
        return b"".join(parts)

    async def send(
        self,
        target: Target,
        payload: Mapping[str, Any],
        *,
        timeout: float = 15.0,
        retry_connection_errors: bool = False,
    ) -> Reply:
        """Deliver ``payload``; the app's 2xx :class:`Reply`, or :class:`DeliveryError`."""
        attempts: list[str] = []
        tries: list[tuple[str, Method, str | None, str | None]] = [
            (target.url, target.method, target.username, target.password)
        ]
        if target.fallback_url:
            tries.append(
                (
                    target.fallback_url,
                    target.fallback_method,
                    target.fallback_username or target.username,
                    target.fallback_password or target.password,
                )
            )
        for url, method, username, password in tries:
            remaining = 2 if retry_connection_errors else 1
            while remaining:
                remaining -= 1
                try:
                    reply = await self._once(url, method, username, password, payload, timeout)
                except _AttemptFailed as exc:
                    again = exc.kind == "connect" and remaining > 0
                    attempts.append(f"{method} {url}: {exc}{', retrying' if again else ''}")
                    if again:
                        continue
                    break
                if 200 <= reply.status < 300:
                    self.sent += 1
                    return reply
                attempts.append(f"{method} {url}: HTTP {reply.status}")
                if reply.status < 500:
                    self.failed += 1
                    raise DeliveryError(
                        f"callback {url} answered HTTP {reply.status}", attempts=tuple(attempts)
                    )
                break
        self.failed += 1
        raise DeliveryError("; ".join(attempts) or f"callback {target.url} failed", attempts=tuple(attempts))


__all__ = [
    "MAX_REPLY_BYTES",
    "USER_AGENT",
    "Deliverer",
    "DeliveryError",
    "Reply",
    "Target",
    "basic_authorization",
    "method_of",
    "query_url",
    "resolve",
]
