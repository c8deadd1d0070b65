"""The webhook sink: an HTTP server (pytest-httpserver underneath) that records every webhook.

``with WebhookSink() as sink:`` serves on 127.0.0.1, an ephemeral port, in threads.  Each test takes
its own :class:`SinkScope` (a unique path prefix ``/s/<name>-<id>/``) and hands ``scope.url(...)``
to the target, so parallel tests never see each other's webhooks.  A scope scripts replies and
faults, records what arrives, checks each payload against the contract, and blocks in
:meth:`SinkScope.wait_for` until a webhook comes.

Errors raised on the server thread (a reply function that fails, a log that cannot be written) are
collected and re-raised on the caller's thread by :meth:`WebhookSink.check` /
:meth:`SinkScope.check`, which also fail on any webhook that broke the contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import URIPattern
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from conformance.errors import ConfigurationError
from conformance.webhooks import events as _events
from conformance.webhooks.events import EventType
from conformance.webhooks.payloads import PayloadChecker, read_payload
from conformance.webhooks.records import Outcome, PayloadProblem, Webhook
from conformance.webhooks.scope import (
    SCOPE_ROOT,
    SinkScope,
    WebhookProblems,
    WebhookTimeout,
    problems_text,
)
from conformance.webhooks.script import Reply, default_reply, render

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class _AnyPath(URIPattern):
    def match(self, uri: str) -> bool:
        return True


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its per-request line on stderr (the sink keeps its own log)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _Server(HTTPServer):
    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.05)  # stop() in 50 ms rather than 500

    def start(self) -> None:
        super().start()
        assert self.server is not None
        # Nothing can reach the server before start() returns its URL, so swapping is safe.
        self.server.RequestHandlerClass = _QuietRequestHandler


class WebhookSink:
    """Receives webhooks for many scopes on one port; usable with or without pytest.

    ``lock`` (re-entrant) guards every record and script; ``condition`` is notified after each
    webhook is recorded, so callers may wait on their own predicates over ``scope.requests``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_base_url: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        catalogue: Mapping[str, EventType] | None = None,
        on_webhook: Callable[[Webhook], None] | None = None,
    ) -> None:
        if public_base_url is not None and not re.match(r"^https?://[^/\s]+(/\S*)?$", public_base_url):
            raise ConfigurationError(
                f"public_base_url must be an http(s) URL, not {public_base_url!r}", reason="bad-callback-url"
            )
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.catalogue: Mapping[str, EventType] = catalogue if catalogue is not None else _events.catalogue()
        self.on_webhook = on_webhook
        self.lock = threading.RLock()
        self.condition = threading.Condition(self.lock)
        self._checker = PayloadChecker(self.catalogue)
        self._server = _Server(host=host, port=port, threaded=True)
        self._server.expect_request(_AnyPath()).respond_with_handler(self._handle)
        self._scopes: dict[str, SinkScope] = {}
        self._catch_all: SinkScope | None = None
        self._received: list[Webhook] = []
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._log_fd: int | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.is_running():
            raise ConfigurationError("the sink is already running", reason="sink-running")
        if self.log_path is not None:
            try:
                self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot open the sink log {str(self.log_path)!r}: {exc.strerror}", reason="bad-log-path"
                ) from exc
        self._stopping.clear()
        try:
            self._server.start()
        except (OSError, SystemExit) as exc:  # werkzeug calls sys.exit() when the port is taken
            self._close_log()
            where = f"{self._server.host}:{self._server.port}"
            raise ConfigurationError(f"the sink cannot listen on {where}", reason="cannot-listen") from exc

    def _close_log(self) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed replies, which then drop their connection
        if self._server.is_running():
            self._server.stop()
        self._close_log()

    def is_running(self) -> bool:
        return bool(self._server.is_running())

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses and scopes --------------------------------------------------------------------
    @property
    def local_url(self) -> str:
        """Where the sink listens (``http://127.0.0.1:<port>``); known once it has started."""
        if self._server.port == 0:
            raise ConfigurationError("the sink has no port until it starts", reason="sink-not-started")
        return str(self._server.url_for("/")).rstrip("/")

    @property
    def base_url(self) -> str:
        """Where the target reaches the sink: ``public_base_url`` when given, else :attr:`local_url`."""
        return self.public_base_url or self.local_url

    def scope(self, name: str | None = None) -> SinkScope:
        """A new scope with a unique prefix; ``name`` (e.g. the test id) makes logs readable."""
        tag = _NAME_UNSAFE.sub("-", name).strip("-.")[:40] if name else ""
        key = f"{tag}-{uuid.uuid4().hex[:10]}" if tag else uuid.uuid4().hex[:12]
        scope = SinkScope(self, key, name)
        with self.lock:
            self._scopes[key] = scope
        return scope

    def scope_name(self, key: str) -> str | None:
        """The name a scope was given (the test id, for the suites' scopes), by its key."""
        with self.lock:
            scope = self._scopes.get(key)
        return scope.name if scope is not None else None

    def catch_all(self) -> SinkScope:
        """The scope that receives every request outside the ``/s/<key>/`` scopes (standalone use)."""
        with self.lock:
            if self._catch_all is None:
                self._catch_all = SinkScope(self, "", "catch-all")
            return self._catch_all

    def _route(self, path: str) -> tuple[SinkScope | None, str]:
        if path.startswith(SCOPE_ROOT):
            key, _, rest = path[len(SCOPE_ROOT) :].partition("/")
            scope = self._scopes.get(key)
            if scope is not None:
                return scope, rest
        if self._catch_all is not None:
            return self._catch_all, path.lstrip("/")
        return None, path.lstrip("/")

    # -- what arrived ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[Webhook]:
        """Every request the sink received, strays included, in order of arrival."""
        with self.lock:
            return list(self._received)

    @property
    def stray(self) -> list[Webhook]:
        """Requests outside every scope (answered 404)."""
        return [w for w in self.requests if w.scope is None]

    @property
    def errors(self) -> list[BaseException]:
        with self.lock:
            return list(self._errors)

    def check(self) -> None:
        """Re-raise the first error met on the server thread; fail on webhooks with problems."""
        with self.lock:
            errors = list(self._errors)
            bad = [w for w in self._received if w.problems]
        if errors:
            raise errors[0]
        self._server.check()
        if bad:
            raise WebhookProblems(f"{len(bad)} webhook(s) break the contract:\n{problems_text(bad)}", bad)

    # -- the server thread -----------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        received_at = datetime.now(UTC)
        body = request.get_data()
        query = {key: tuple(request.args.getlist(key)) for key in request.args}
        with self.lock:
            scope, rest = self._route(request.path)
        payload, problems = read_payload(request.method, request.content_type, body, query, self.catalogue)
        if payload is not None:
            problems.extend(self._checker.problems(payload))
        if scope is None:
            problems.append(
                PayloadProblem("unscoped", "", f"{request.path} belongs to no scope of this sink")
            )
        event_name = payload.get("eventType") if payload is not None else None
        event_type = event_name if isinstance(event_name, str) else None
        call_value = payload.get("callId") if payload is not None else None
        call_id = call_value if isinstance(call_value, str) else None
        outcome = self._decide(scope, event_type, call_id, rest, payload or {})
        authorization = request.authorization
        auth = None
        if authorization is not None and authorization.type == "basic":
            auth = (authorization.username or "", authorization.password or "")
        with self.lock:
            webhook = Webhook(
                seq=len(self._received) + 1,
                scope=scope.key if scope is not None else None,
                method=request.method,
                path=request.path,
                event_path=rest,
                query=query,
                headers=dict(request.headers.items()),
                auth=auth,
                body=body,
                payload=payload,
                received_at=received_at,
                problems=tuple(problems),
                outcome=outcome,
            )
            self._record(scope, webhook)
        # stop() wakes a delayed reply, which then drops its connection; other replies complete,
        # and stop() returns only once every reply in flight is written (socketserver joins them).
        interrupted = bool(outcome.delay) and self._stopping.wait(outcome.delay)
        if outcome.dropped or interrupted:
            self._drop(request)
            return Response(b"", status=500)
        response = Response(outcome.body, status=outcome.status or 500)
        if outcome.content_type is not None:
            response.headers["Content-Type"] = outcome.content_type
        elif not outcome.body:
            response.headers.pop("Content-Type", None)
        return response

    def _decide(
        self,
        scope: SinkScope | None,
        event_type: str | None,
        call_id: str | None,
        path: str,
        payload: Mapping[str, Any],
    ) -> Outcome:
        if scope is None:
            return Outcome(status=404, source="unscoped")
        with self.lock:
            fault = scope._script.take_fault(event_type, call_id, path)
            final = fault is not None and (fault.drop or fault.status is not None)
            spec = None if final else scope._script.take_reply(event_type, call_id, path)
        delay = fault.delay if fault is not None else 0.0
        if fault is not None and fault.drop:
            return Outcome(status=None, delay=delay, dropped=True, source="fault")
        if fault is not None and fault.status is not None:
            return Outcome(status=fault.status, delay=delay, source="fault")
        reply: Reply | None = None
        source: Any = "default"
        if spec is not None:
            try:
                reply = render(spec, payload)
            except Exception as exc:  # a user's reply function failed: re-raised by check()
                with self.lock:
                    scope._errors.append(exc)
                    self._errors.append(exc)
                return Outcome(
                    status=500, body=f"reply failed: {exc!r}".encode(), delay=delay, source="error"
                )
            source = "scripted" if reply is not None else "default"
        if reply is None:
            reply = default_reply(self.catalogue.get(event_type) if event_type else None)
        return Outcome(
            status=reply.status, body=reply.body, content_type=reply.content_type, delay=delay, source=source
        )

    def _record(self, scope: SinkScope | None, webhook: Webhook) -> None:
        """Keep ``webhook`` (caller holds the lock): memory, JSONL line, waiters, the callback."""
        self._received.append(webhook)
        if scope is not None:
            scope._received.append(webhook)
        if self._log_fd is not None:
            line = (json.dumps(webhook.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            try:
                written = 0
                while written < len(line):
                    written += os.write(self._log_fd, line[written:])
            except OSError as exc:
                self._errors.append(exc)
        self.condition.notify_all()
        if self.on_webhook is not None:
            try:
                self.on_webhook(webhook)
            except Exception as exc:  # re-raised by check()
                self._errors.append(exc)

    @staticmethod
    def _drop(request: Request) -> None:
        connection = request.environ.get("werkzeug.socket")
        if isinstance(connection, socket.socket):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


__all__ = ["SCOPE_ROOT", "SinkScope", "WebhookProblems", "WebhookSink", "WebhookTimeout"]
