"""Harness for the call-engine tests: a simulator running the engine, and a scripted voice app.

The app is a pytest-httpserver ``HTTPServer`` on 127.0.0.1 (port 0) answering each path with the
BXML a test scripted (or a fault), and recording every webhook it receives.  Every webhook is
checked as it arrives: it must parse with the official SDK's model for its event (and carry no
field the model does not know) or, for events the SDK has no model for, validate against the
contract's schema.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import bandwidth.models as sdk
import httpx
import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conformance.simulator import Simulator
from conformance.simulator.clock import VirtualClock
from conformance.simulator.engine import Engine, engine_factory
from conformance.webhooks.events import event as contract_event

ACCOUNT = "9900000"
APP_ID = "11111111-1111-4111-8111-111111111111"
AUTH = ("bw-user", "bw-pass")
CALLER = "+19195550100"
LOOPBACK = "+19195550150"  # routed to the default application, whose URLs the tests set
PERSON = "+19995550000"

_SDK_MODELS = {
    "answer": "AnswerCallback",
    "bridgeComplete": "BridgeCompleteCallback",
    "bridgeTargetComplete": "BridgeTargetCompleteCallback",
    "conferenceCreated": "ConferenceCreatedCallback",
    "conferenceRedirect": "ConferenceRedirectCallback",
    "conferenceMemberJoin": "ConferenceMemberJoinCallback",
    "conferenceMemberExit": "ConferenceMemberExitCallback",
    "conferenceCompleted": "ConferenceCompletedCallback",
    "conferenceRecordingAvailable": "ConferenceRecordingAvailableCallback",
    "disconnect": "DisconnectCallback",
    "dtmf": "DtmfCallback",
    "gather": "GatherCallback",
    "initiate": "InitiateCallback",
    "machineDetectionComplete": "MachineDetectionCompleteCallback",
    "recordComplete": "RecordingCompleteCallback",
    "recordingAvailable": "RecordingAvailableCallback",
    "redirect": "RedirectCallback",
    "referComplete": "ReferCompleteCallback",
    "transcriptionAvailable": "TranscriptionAvailableCallback",
    "transferAnswer": "TransferAnswerCallback",
    "transferComplete": "TransferCompleteCallback",
    "transferDisconnect": "TransferDisconnectCallback",
}

# Fields the contract documents (from the platform's docs and examples) that the SDK's model lacks.
_CONTRACT_BEYOND_SDK = {"transferAnswer": {"parentCallId"}}

Reply = str | Callable[[Request], Response]


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = contract_event(name).schema
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def check_payload(payload: dict[str, Any]) -> None:
    """The SDK model parses ``payload`` and knows every field; the contract schema accepts it."""
    name = payload["eventType"]
    _validator(name).validate(payload)
    model_name = _SDK_MODELS.get(name)
    if model_name is None:
        return
    model = getattr(sdk, model_name).from_dict(payload)
    assert model is not None
    extra = set(model.additional_properties) - _CONTRACT_BEYOND_SDK.get(name, set())
    assert not extra, f"{name} carries fields the SDK model does not know: {sorted(extra)}"


@dataclass
class Hook:
    """One webhook the app received."""

    path: str
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    received: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> str:
        return str(self.body.get("eventType"))


class VoiceApp:
    """A scripted voice application on a real local HTTP server."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.replies: dict[str, Reply] = {}
        self.hooks: list[Hook] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        server.expect_request("/", method="GET").respond_with_data("ok")
        server.no_handler_status_code = 500
        import re

        server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def reply(self, path: str, bxml: Reply) -> str:
        """Answer ``path`` with ``bxml``; returns the full URL."""
        self.replies[path] = bxml
        return self.url(path)

    def _handle(self, request: Request) -> Response:
        if request.method == "GET":
            body: dict[str, Any] = dict(parse_qsl(request.query_string.decode()))
        else:
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except json.JSONDecodeError:
                body = {}
        hook = Hook(request.path, request.method, body, dict(request.headers))
        if "eventType" in body and request.method == "POST":
            try:
                check_payload(body)
            except Exception as exc:  # reported by the test that reads app.errors
                with self._lock:
                    self.errors.append(f"{request.path} {body.get('eventType')}: {exc}")
        with self._lock:
            self.hooks.append(hook)
        reply = self.replies.get(request.path, "")
        if callable(reply):
            return reply(request)
        return Response(reply, status=200, content_type="application/xml")

    def events(self, path: str | None = None) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks if path is None or h.path == path]

    def names(self, call_id: str | None = None) -> list[str]:
        return [h.event for h in self.events() if call_id is None or h.body.get("callId") == call_id]

    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout} s; webhooks so far: {self.summary()}")
            time.sleep(0.01)

    def wait_event(self, name: str, count: int = 1, timeout: float = 10.0, **fields: Any) -> list[Hook]:
        def matching() -> list[Hook]:
            return [
                h
                for h in self.events()
                if h.event == name and all(h.body.get(k) == v for k, v in fields.items())
            ]

        self.wait(lambda: len(matching()) >= count, timeout)
        return matching()

    def summary(self) -> list[tuple[str, str, Any]]:
        return [(h.path, h.event, h.body.get("callId")) for h in self.events()]


@dataclass
class Harness:
    sim: Simulator
    app: VoiceApp
    http: httpx.Client

    @property
    def engine(self) -> Engine:
        engine = self.sim.runtime.engine
        assert isinstance(engine, Engine)
        return engine

    @property
    def clock(self) -> VirtualClock:
        """The simulator's clock (tests switch it to real time to act on a live call)."""
        return self.engine.clock

    def route_loopback(self, initiate_path: str = "/initiate", status_path: str = "/status") -> None:
        application = self.sim.store.accounts[ACCOUNT].applications[APP_ID]
        application.call_initiated_callback_url = self.app.url(initiate_path)
        application.call_status_callback_url = self.app.url(status_path)

    def create_call(self, to: str = PERSON, answer: str = "/answer", **extra: Any) -> str:
        body = {
            "from": CALLER,
            "to": to,
            "applicationId": APP_ID,
            "answerUrl": self.app.url(answer),
            "disconnectUrl": self.app.url("/disconnect"),
        }
        body.update(extra)
        response = self.http.post(f"/accounts/{ACCOUNT}/calls", json=body)
        assert response.status_code == 201, response.text
        call_id: str = response.json()["callId"]
        return call_id

    def state(self, call_id: str) -> dict[str, Any]:
        response = self.http.get(f"/accounts/{ACCOUNT}/calls/{call_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def wait_ended(self, call_id: str, timeout: float = 10.0, *, webhook: bool = True) -> dict[str, Any]:
        """The call's final state, once it is disconnected and (by default) its disconnect arrived."""
        self.app.wait(lambda: self.state(call_id).get("state") == "disconnected", timeout)
        if webhook:
            self.app.wait_event("disconnect", timeout=timeout, callId=call_id)
        return self.state(call_id)


@pytest.fixture
def app() -> Iterator[VoiceApp]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield VoiceApp(server)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def harness(app: VoiceApp) -> Iterator[Harness]:
    with Simulator(engine_factory=engine_factory) as sim:
        engine = sim.runtime.engine
        assert isinstance(engine, Engine)
        engine.base_url = sim.base_url
        with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10) as http:
            h = Harness(sim, app, http)
            yield h
    assert not app.errors, app.errors
    assert not engine.errors, engine.errors
