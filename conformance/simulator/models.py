"""The simulator's records and the seam between the REST layer and the call engine.

The REST layer (``simulator/app.py`` and friends) validates requests, keeps these records in a
:class:`~conformance.simulator.store.Store` and asks a :class:`CallEngine` to act on calls.  The
call engine (``simulator/engine/``) drives call state, runs BXML and sends webhooks; it mutates the
records only through the store, so REST reads always see the live truth.

Times are ``datetime`` in UTC taken from the simulator's clock (virtual or real), never from
``datetime.now()`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

CallDirection = Literal["inbound", "outbound"]
Method = Literal["GET", "POST"]


@dataclass
class Application:
    id: str
    name: str = ""
    call_initiated_callback_url: str | None = None
    call_initiated_method: Method = "POST"
    call_initiated_fallback_url: str | None = None
    call_initiated_fallback_method: Method = "POST"
    call_status_callback_url: str | None = None
    call_status_method: Method = "POST"
    callback_username: str | None = None
    callback_password: str | None = None
    callback_timeout: float = 15.0


@dataclass
class PhoneNumber:
    number: str
    application_id: str | None = None


@dataclass
class Account:
    id: str
    username: str
    password: str
    applications: dict[str, Application] = field(default_factory=dict)
    numbers: dict[str, PhoneNumber] = field(default_factory=dict)
    calls_per_second: float | None = None  # None: no rate limit
    max_concurrent_calls: int | None = None
    max_call_queue_size: int = 1500


@dataclass(frozen=True)
class ApiCredential:
    """An OAuth2 client (Bandwidth's "API credential"): a client id and secret covering accounts.

    A client trades its id and secret for short-lived access tokens at the token endpoint and sends
    ``Authorization: Bearer <token>``; a token acts for any of ``accounts``.
    """

    client_id: str
    client_secret: str = field(repr=False)
    accounts: tuple[str, ...] = ()


@dataclass
class Callback:
    """Where and how one kind of webhook is delivered."""

    url: str | None = None
    method: Method = "POST"
    username: str | None = None
    password: str | None = None
    fallback_url: str | None = None
    fallback_method: Method = "POST"
    fallback_username: str | None = None
    fallback_password: str | None = None


@dataclass
class Call:
    account_id: str
    call_id: str
    application_id: str
    to: str
    from_: str
    direction: CallDirection
    state: str = "queued"  # queued | initiated | answered | disconnected
    parent_call_id: str | None = None
    enqueued_time: datetime | None = None
    start_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    last_update: datetime | None = None
    disconnect_cause: str | None = None
    error_message: str | None = None
    error_id: str | None = None
    tag: str | None = None
    answer: Callback = field(default_factory=Callback)
    disconnect: Callback = field(default_factory=Callback)
    call_timeout: float = 30.0
    callback_timeout: float = 15.0
    priority: int = 5
    display_name: str | None = None
    privacy: bool | None = None
    uui: str | None = None
    machine_detection: dict[str, Any] | None = None
    identity: str | None = None
    stir_shaken: dict[str, str] | None = None
    # The request body exactly as accepted, for echoing in createCallResponse.
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.state == "disconnected"


@dataclass
class Transcription:
    """A transcription of a recording (``/recordings/{id}/transcription``)."""

    id: str
    status: str = "processing"  # none | processing | available | error | ...
    completed_time: datetime | None = None
    text: str = ""
    confidence: float = 0.9


@dataclass
class Recording:
    account_id: str
    recording_id: str
    call_id: str | None  # None for conference recordings
    conference_id: str | None = None
    application_id: str | None = None
    parent_call_id: str | None = None
    to: str | None = None
    from_: str | None = None
    transfer_caller_id: str | None = None
    transfer_to: str | None = None
    direction: CallDirection | None = None
    name: str | None = None
    channels: int = 1
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: float = 0.0
    file_format: Literal["wav", "mp3"] = "wav"
    status: str = "processing"  # processing | partial | complete | deleted | error
    media: bytes | None = None  # None once the media is deleted
    transcription: Transcription | None = None
    state: Literal["recording", "paused", "stopped"] = "stopped"


@dataclass
class ConferenceMember:
    call_id: str
    conference_id: str
    mute: bool = False
    hold: bool = False
    call_ids_to_coach: list[str] | None = None


@dataclass
class Conference:
    account_id: str
    id: str
    name: str
    created_time: datetime
    completed_time: datetime | None = None
    event: Callback = field(default_factory=Callback)
    tag: str | None = None
    members: dict[str, ConferenceMember] = field(default_factory=dict)  # active members by call id

    @property
    def active(self) -> bool:
        return self.completed_time is None


@dataclass
class RealTimeTranscription:
    account_id: str
    call_id: str
    transcription_id: str
    name: str
    tracks: list[dict[str, Any]] = field(default_factory=list)


class Clock(Protocol):
    """The simulator's notion of now (virtual or real); always timezone-aware UTC."""

    def now(self) -> datetime: ...


class EngineRejected(Exception):
    """Raised by a :class:`CallEngine` when the request cannot apply to the call's current state.

    ``status`` is the HTTP status the REST layer answers with (409 for an ended call, 400 for BXML
    that fails validation) and ``description`` goes into the voiceApiError body.
    """

    def __init__(self, status: int, description: str, error_type: str = "validation") -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.error_type = error_type


class CallEngine(Protocol):
    """What the REST layer asks of whatever drives calls.

    Every method is called on the server's event loop after the request has been validated and
    the records stored; it returns promptly (long work is scheduled, not awaited) and raises
    :class:`EngineRejected` when the request cannot apply now.
    """

    def call_created(self, call: Call) -> None:
        """A call was accepted by createCall (state ``queued``): place it."""

    def call_redirected(self, call: Call, redirect: Callback) -> None:
        """updateCall with ``state=active`` and a ``redirectUrl``: fetch new BXML from it."""

    def call_completed(self, call: Call) -> None:
        """updateCall with ``state=completed``: hang up, cancel or reject the call."""

    def call_bxml_replaced(self, call: Call, bxml: str) -> None:
        """PUT /calls/{id}/bxml: replace the running document (already validated)."""

    def conference_updated(
        self, conference: Conference, status: str | None, redirect: Callback | None
    ) -> None:
        """updateConference: ``status=completed`` ends it; a redirect sends conferenceRedirect."""

    def conference_bxml_replaced(self, conference: Conference, bxml: str) -> None:
        """PUT /conferences/{id}/bxml (already validated in the conference context)."""

    def member_updated(self, conference: Conference, member: ConferenceMember) -> None:
        """updateConferenceMember changed mute/hold/coach; apply it to the media."""

    def recording_state_changed(self, call: Call, state: Literal["paused", "recording"]) -> None:
        """PUT /calls/{id}/recording: pause or resume the active recording."""

    def transcription_requested(self, recording: Recording, callback: Callback, tag: str | None) -> None:
        """POST .../transcription: transcribe the recording and send transcriptionAvailable."""
