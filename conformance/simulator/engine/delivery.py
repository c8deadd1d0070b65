"""Webhook delivery: one HTTP request per event, with auth, timeout, fallback and retry.

A :class:`Target` says where an event goes (URL, method, Basic credentials and the fallback).
:meth:`Deliverer.send` posts JSON (``POST``) or query parameters (``GET``), waits at most the
callback timeout, and on a failure of the primary URL (5xx, timeout, refused connection) tries the
fallback.  Asynchronous events (no BXML reply) get one more try to the same URL after a connection
error, as the platform documents.  While a request is in flight the virtual clock is held still.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from conformance.errors import ConformanceError
from conformance.simulator.clock import VirtualClock
from conformance.simulator.egress import EgressPolicy
from conformance.simulator.engine.http1 import Broken, ConnectFailed, Http1Pool
from conformance.simulator.models import Callback, Method

USER_AGENT = "BandwidthAPI/v2 (bw-conformance simulator)"


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
    """What the app answered: status, body text, content type and the URL that served it."""

    status: int
    body: str
    content_type: str
    url: str


def method_of(value: str | None, default: Method = "POST") -> Method:
    """A BXML ``*Method`` attribute as ``GET``/``POST`` (validated BXML only has these)."""
    if value is None or value == "":
        return default
    return "GET" if value.strip().upper() == "GET" else "POST"


def resolve(base: str | None, url: str | None) -> str | None:
    """``url`` resolved against the URL that served the document it came from."""
    if url is None or url.strip() == "":
        return None
    url = url.strip()
    if base is None or urlsplit(url).scheme:
        return url
    return urljoin(base, url)


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


class Deliverer:
    """Sends webhooks with one shared ``httpx.AsyncClient`` (created on first use)."""

    def __init__(self, clock: VirtualClock, *, max_connections: int = 512) -> None:
        self.clock = clock
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None
        self._pool = Http1Pool()
        self.sent = 0
        self.failed = 0
        self.attempts: Counter[str] = Counter()  # requests tried, by URL (retries and fallbacks count)
        self.egress = EgressPolicy()  # the simulator sets its configured policy

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections, max_keepalive_connections=self._max_connections
            )
            self._client = httpx.AsyncClient(
                limits=limits, follow_redirects=False, headers={"User-Agent": USER_AGENT}, trust_env=False
            )
        return self._client

    async def aclose(self) -> None:
        await self._pool.aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _once(
        self,
        url: str,
        method: Method,
        username: str | None,
        password: str | None,
        payload: Mapping[str, Any],
        timeout: float,
    ) -> Reply:
        self.attempts[url] += 1
        if not self.egress.allows(url):
            raise httpx.ConnectError(self.egress.refusal(url))
        if urlsplit(url).scheme == "http":
            return await self._plain(url, method, username, password, payload, timeout)
        auth = httpx.BasicAuth(username, password or "") if username else None
        kwargs: dict[str, Any] = {"timeout": httpx.Timeout(timeout), "auth": auth}
        if method == "GET":
            kwargs["params"] = _query(payload)
        else:
            kwargs["content"] = json.dumps(payload, separators=(",", ":")).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        with self.clock.busy():
            response = await self._http().request(method, url, **kwargs)
            body = response.text
        return Reply(response.status_code, body, response.headers.get("content-type", ""), str(response.url))

    async def _plain(
        self,
        url: str,
        method: Method,
        username: str | None,
        password: str | None,
        payload: Mapping[str, Any],
        timeout: float,
    ) -> Reply:
        """``http://`` through the small keep-alive client (see :mod:`.http1`)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = b""
        if method == "GET":
            query = urlencode(_query(payload))
            url = f"{url}{'&' if urlsplit(url).query else '?'}{query}" if query else url
        else:
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        with self.clock.busy():
            response = await self._pool.request(method, url, headers, body, timeout)
        ctype = response.headers.get("content-type", "")
        charset = "utf-8"
        for part in ctype.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            text = response.body.decode(charset, "replace")
        except LookupError:
            text = response.body.decode("utf-8", "replace")
        return Reply(response.status, text, ctype, url)

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
        tries: list[tuple[str, Method, str | None, str | None, bool]] = [
            (target.url, target.method, target.username, target.password, retry_connection_errors)
        ]
        if target.fallback_url:
            tries.append(
                (
                    target.fallback_url,
                    target.fallback_method,
                    target.fallback_username or target.username,
                    target.fallback_password or target.password,
                    retry_connection_errors,
                )
            )
        for url, method, username, password, retry in tries:
            remaining = 2 if retry else 1
            while remaining:
                remaining -= 1
                try:
                    reply = await self._once(url, method, username, password, payload, timeout)
                except (httpx.TimeoutException, TimeoutError) as exc:
                    if isinstance(exc, httpx.ConnectTimeout) and remaining:
                        attempts.append(f"{method} {url}: connect timeout, retrying")
                        continue
                    attempts.append(f"{method} {url}: no answer within {timeout:g} s")
                    break
                except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol, Broken) as exc:
                    attempts.append(f"{method} {url}: {type(exc).__name__} {exc}".rstrip())
                    if isinstance(exc, httpx.ConnectError) and remaining:
                        continue
                    break
                except ConnectFailed as exc:
                    attempts.append(f"{method} {url}: {exc}")
                    if remaining:
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


__all__ = ["USER_AGENT", "Deliverer", "DeliveryError", "Reply", "Target", "method_of", "resolve"]
