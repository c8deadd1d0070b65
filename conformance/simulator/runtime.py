"""What one running simulator holds (:class:`Runtime`) and what one request sees (:class:`Ctx`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from conformance.errors import ConformanceError
from conformance.simulator.api_errors import ApiError, not_found
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.models import (
    Account,
    Call,
    CallEngine,
    Clock,
    Conference,
    EngineRejected,
    Recording,
)
from conformance.simulator.oauth import TokenAuthority
from conformance.simulator.ratelimit import RateLimiter
from conformance.simulator.store import Store
from conformance.simulator.transport import base_url, read_json, read_text, require_content_type

__all__ = ["Ctx", "Handler", "Operation", "Runtime", "engine_call", "json_response"]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, headers=headers, media_type="application/json")


@dataclass
class Runtime:
    """The simulator's parts, shared by every request (``app.state.runtime``)."""

    config: SimulatorConfig
    clock: Clock
    store: Store
    engine: CallEngine
    limiter: RateLimiter
    tokens: TokenAuthority  # OAuth2: the token endpoint and Bearer checks


class Ctx:
    """One authenticated Voice API request."""

    __slots__ = ("account", "request", "runtime")

    def __init__(self, request: Request, runtime: Runtime, account: Account) -> None:
        self.request = request
        self.runtime = runtime
        self.account = account

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def engine(self) -> CallEngine:
        return self.runtime.engine

    @property
    def base(self) -> str:
        return base_url(self.request)

    def param(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    async def json(self) -> dict[str, Any]:
        return await read_json(self.request, self.runtime.config.max_body_bytes)

    async def xml(self) -> str:
        require_content_type(self.request, "application/xml")
        return await read_text(self.request, self.runtime.config.max_body_bytes)

    # -- look-ups that answer 404 -----------------------------------------------------------
    def call(self, name: str = "callId") -> Call:
        call_id = self.param(name)
        call = self.store.call(call_id)
        if call is None or call.account_id != self.account.id:
            raise not_found("Call", call_id)
        return call

    def conference(self) -> Conference:
        conference_id = self.param("conferenceId")
        conference = self.store.conference(conference_id)
        if conference is None or conference.account_id != self.account.id:
            raise not_found("Conference", conference_id)
        return conference

    def call_recording(self) -> tuple[Call, Recording]:
        call = self.call()
        recording_id = self.param("recordingId")
        recording = self.store.recording(recording_id)
        if recording is None or recording.call_id != call.call_id:
            raise not_found("Recording", recording_id)
        return call, recording

    def conference_recording(self) -> tuple[Conference, Recording]:
        conference = self.conference()
        recording_id = self.param("recordingId")
        recording = self.store.recording(recording_id)
        if recording is None or recording.conference_id != conference.id:
            raise not_found("Recording", recording_id)
        return conference, recording


Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One operation of the contract: ``operationId``, method, path template and its handler."""

    operation_id: str
    method: str
    path: str
    handler: Handler


def engine_call(action: Callable[[], None]) -> None:
    """Run an engine method, turning :class:`EngineRejected` into the matching :class:`ApiError`."""
    try:
        action()
    except ApiError:
        raise
    except ConformanceError as exc:  # e.g. the engine's own parse of a document refused it
        raise ApiError(400, str(exc)[:500], rule=f"engine-{exc.reason}") from None
    except EngineRejected as exc:
        raise ApiError(
            exc.status,
            exc.description,
            rule=f"engine-{exc.status}",
            error_type=exc.error_type,
            error_id="" if exc.status == 409 else None,
        ) from None
