"""The simulator's in-memory state: accounts, OAuth2 credentials, calls, recordings, conferences,
transcriptions, the request log.

One :class:`Store` belongs to one running simulator.  The REST layer and the call engine both read
and change records only through it, so a ``GET`` always sees what the engine last did.

Concurrency: everything runs on the server's single asyncio event loop and no method awaits, so
each method is atomic with respect to the others and no lock is needed.  Code on another thread
(a test holding a :class:`~conformance.simulator.server.Simulator` handle) should treat the store
as read-mostly, or schedule changes onto the loop.

Retention: as on the real platform, an ended call is kept :data:`CALL_RETENTION_SECONDS` (7 days)
after it ended, a recording :data:`RECORDING_RETENTION_SECONDS` (30 days) after it finished, and a
completed conference 7 days, all measured on the simulator's clock; then they are gone (404, and
absent from lists).  ``max_ended_calls`` also caps how many ended calls (and, separately, finished
recordings and completed conferences) are kept, and ``max_recording_bytes`` the recordings' media:
the oldest go first; a live call is never dropped.  Per-account indexes keep listCalls and the
statistics proportional to what one account has, not to everything ever seen.

Ids follow the formats the real API uses: a prefix (``c-``, ``conf-``, ``r-``, ``t-``, ``s-``)
then eight hex digits, a dash and a UUID4, e.g. ``c-`` + 45 characters = 47 for a call id.  A
recording transcription's id is the exception: ``t-`` and a bare UUID4 (38 characters).
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from conformance.simulator.models import (
    Account,
    ApiCredential,
    Application,
    Call,
    Clock,
    Conference,
    ConferenceMember,
    RealTimeTranscription,
    Recording,
)

__all__ = [
    "CALL_ID_PREFIX",
    "CONFERENCE_ID_PREFIX",
    "RECORDING_ID_PREFIX",
    "STREAM_ID_PREFIX",
    "TRANSCRIPTION_ID_PREFIX",
    "RequestRecord",
    "Store",
    "new_id",
]

CALL_ID_PREFIX = "c-"
CONFERENCE_ID_PREFIX = "conf-"
RECORDING_ID_PREFIX = "r-"
TRANSCRIPTION_ID_PREFIX = "t-"
STREAM_ID_PREFIX = "s-"

_DEFAULT_LOG_SIZE = 10_000
_LOGGED_TEXT = 4096  # longest path or description kept in the request log

CALL_RETENTION_SECONDS = 7 * 86400.0
RECORDING_RETENTION_SECONDS = 30 * 86400.0
DEFAULT_MAX_ENDED_CALLS = 10_000
DEFAULT_MAX_RECORDING_BYTES = 512 * 1024 * 1024


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix`` + 8 hex digits + ``-`` + a UUID4 (45 characters after the prefix)."""
    return f"{prefix}{secrets.token_hex(4)}-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator answered, as shown by ``GET /_sim/requests``.

    ``rule`` names the contract rule the request broke (``None`` when it was valid) and
    ``description`` is the voiceApiError description sent back with it.
    """

    seq: int
    time: datetime
    method: str
    path: str
    status: int
    operation: str | None = None
    account_id: str | None = None
    rule: str | None = None
    description: str | None = None
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "operation": self.operation,
            "accountId": self.account_id,
            "rule": self.rule,
            "description": self.description,
            "durationMs": round(self.duration_ms, 3),
        }


@dataclass
class _Index:
    """Derived look-up tables, rebuilt when accounts change."""

    by_username: dict[str, Account] = field(default_factory=dict)
    by_number: dict[str, Account] = field(default_factory=dict)
    # Authorization header -> the account it authenticates (only successes are kept).
    by_authorization: dict[str, Account] = field(default_factory=dict)


class Store:
    """All records of one simulator, with the look-ups the REST layer and the call engine need."""

    def __init__(
        self,
        clock: Clock,
        accounts: Iterable[Account] = (),
        *,
        credentials: Iterable[ApiCredential] = (),
        log_size: int = _DEFAULT_LOG_SIZE,
        max_ended_calls: int = DEFAULT_MAX_ENDED_CALLS,
        max_recording_bytes: int = DEFAULT_MAX_RECORDING_BYTES,
    ):
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.credentials: dict[str, ApiCredential] = {c.client_id: c for c in credentials}
        # client id -> revocation generation (absent: 0): a token carries the one current when it was
        # issued and is good only while it still is.  Read it freely; change it only through
        # revoke_tokens.  Never reset, so a credential deleted and made again does not revive the
        # old tokens.
        self.token_generations: dict[str, int] = {}
        self.calls: dict[str, Call] = {}  # insertion order is creation order
        self.recordings: dict[str, Recording] = {}
        self.conferences: dict[str, Conference] = {}
        self.realtime_transcriptions: dict[str, RealTimeTranscription] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=log_size)
        self._request_seq = 0
        self._index = _Index()
        self.max_ended_calls = max_ended_calls
        self.max_recording_bytes = max_recording_bytes
        self._account_calls: dict[str, dict[str, Call]] = {}  # every kept call, by account
        self._live_calls: dict[str, dict[str, Call]] = {}  # calls not yet ended, by account
        self._call_transcriptions: dict[str, set[str]] = {}  # call id -> real-time transcription ids
        # (when it ended, id), oldest first: the order in which records expire.
        self._ended_calls: deque[tuple[float, str]] = deque()
        self._finished_recordings: deque[tuple[float, str, int]] = deque()  # ... and media bytes
        self._completed_conferences: deque[tuple[float, str]] = deque()
        self._recording_bytes = 0
        for account in accounts:
            self.accounts[account.id] = account
        self.reindex()

    # ----------------------------------------------------------------------------- time, ids
    def now(self) -> datetime:
        return self.clock.now()

    @staticmethod
    def new_call_id() -> str:
        return new_id(CALL_ID_PREFIX)

    @staticmethod
    def new_conference_id() -> str:
        return new_id(CONFERENCE_ID_PREFIX)

    @staticmethod
    def new_recording_id() -> str:
        return new_id(RECORDING_ID_PREFIX)

    @staticmethod
    def new_transcription_id() -> str:
        """A real-time transcription id (``<StartTranscription>``): ``t-`` + 45 characters (47)."""
        return new_id(TRANSCRIPTION_ID_PREFIX)

    @staticmethod
    def new_recording_transcription_id() -> str:
        """A recording transcription id: ``t-`` + a UUID (38 characters), the documented format."""
        return f"{TRANSCRIPTION_ID_PREFIX}{uuid.uuid4()}"

    @staticmethod
    def new_stream_id() -> str:
        return new_id(STREAM_ID_PREFIX)

    # ----------------------------------------------------------------------------- accounts
    def reindex(self) -> None:
        """Rebuild the look-up tables; call after changing accounts (or their passwords) in place.

        Credentials lose the accounts that no longer exist (a credential left with none still gets
        tokens, which act for no account).
        """
        index = _Index()
        for account in self.accounts.values():
            index.by_username[account.username] = account
            for number in account.numbers:
                index.by_number[number] = account
        self._index = index
        for client_id, credential in self.credentials.items():
            if any(a not in self.accounts for a in credential.accounts):
                kept = tuple(a for a in credential.accounts if a in self.accounts)
                self.credentials[client_id] = replace(credential, accounts=kept)

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def account_by_username(self, username: str) -> Account | None:
        return self._index.by_username.get(username)

    def remembered_authorization(self, header: str) -> Account | None:
        """The account an ``Authorization`` header authenticated before (cleared by :meth:`reindex`)."""
        return self._index.by_authorization.get(header)

    def remember_authorization(self, header: str, account: Account) -> None:
        cache = self._index.by_authorization
        if len(cache) >= 1024:
            cache.clear()
        cache[header] = account

    def put_account(self, account: Account) -> None:
        """Add or replace an account (its calls and other records stay)."""
        self.accounts[account.id] = account
        self.reindex()

    def remove_account(self, account_id: str) -> Account | None:
        account = self.accounts.pop(account_id, None)
        self.reindex()
        return account

    # ----------------------------------------------------------------------------- credentials
    def credential(self, client_id: str) -> ApiCredential | None:
        return self.credentials.get(client_id)

    def put_credential(self, credential: ApiCredential) -> None:
        """Add or replace a credential; its tokens stay good (revoke them with :meth:`revoke_tokens`)."""
        self.credentials[credential.client_id] = credential

    def remove_credential(self, client_id: str) -> ApiCredential | None:
        """Delete a credential and revoke every token issued to it."""
        credential = self.credentials.pop(client_id, None)
        if credential is not None:
            self.revoke_tokens(client_id)
        return credential

    def replace_credentials(self, credentials: Iterable[ApiCredential]) -> None:
        """Set every credential at once; those that disappear have their tokens revoked."""
        new = {c.client_id: c for c in credentials}
        for client_id in self.credentials:
            if client_id not in new:
                self.revoke_tokens(client_id)
        self.credentials = new

    def token_generation(self, client_id: str) -> int:
        """The revocation generation of a client id (0 until its tokens are first revoked)."""
        return self.token_generations.get(client_id, 0)

    def revoke_tokens(self, client_id: str) -> None:
        """Every token issued to ``client_id`` so far stops working; tokens issued later work."""
        self.token_generations[client_id] = self.token_generations.get(client_id, 0) + 1

    def application(self, account_id: str, application_id: str) -> Application | None:
        account = self.accounts.get(account_id)
        return None if account is None else account.applications.get(application_id)

    def route(self, number: str) -> tuple[Account, Application] | None:
        """The account and application a number is routed to, or ``None`` (unknown or unassigned)."""
        account = self._index.by_number.get(number)
        if account is None:
            return None
        phone = account.numbers.get(number)
        if phone is None or phone.application_id is None:
            return None
        application = account.applications.get(phone.application_id)
        return None if application is None else (account, application)

    # ----------------------------------------------------------------------------- calls
    def call(self, call_id: str) -> Call | None:
        self.expire()
        return self.calls.get(call_id)

    def add_call(self, call: Call) -> Call:
        if call.call_id in self.calls:
            raise ValueError(f"duplicate call id {call.call_id}")
        now = self.now()
        if call.enqueued_time is None:
            call.enqueued_time = now
        if call.last_update is None:
            call.last_update = now
        self.calls[call.call_id] = call
        self._account_calls.setdefault(call.account_id, {})[call.call_id] = call
        if call.ended:
            self._ended_calls.append((now.timestamp(), call.call_id))
        else:
            self._live_calls.setdefault(call.account_id, {})[call.call_id] = call
        self.expire()
        return call

    def update_call(self, call_id: str, **changes: Any) -> Call:
        """Set fields of a call (``KeyError`` when unknown) and stamp ``last_update``."""
        call = self.calls[call_id]
        was_ended = call.ended
        for name, value in changes.items():
            if not hasattr(call, name):
                raise AttributeError(f"Call has no field {name!r}")
            setattr(call, name, value)
        call.last_update = self.now()
        if call.ended and not was_ended:
            self._live_calls.get(call.account_id, {}).pop(call_id, None)
            self._ended_calls.append((call.last_update.timestamp(), call_id))
        return call

    def remove_call(self, call_id: str) -> Call | None:
        """Forget a call at once (one that createCall could not place), with its real-time
        transcriptions; its recordings stay until they expire."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return None
        self._account_calls.get(call.account_id, {}).pop(call_id, None)
        self._live_calls.get(call.account_id, {}).pop(call_id, None)
        for transcription_id in self._call_transcriptions.pop(call_id, ()):
            self.realtime_transcriptions.pop(transcription_id, None)
        return call

    def _kept(self, calls: dict[str, Call]) -> list[Call]:
        # A call taken out of ``self.calls`` directly (not through remove_call) is not kept.
        return [c for c in calls.values() if self.calls.get(c.call_id) is c]

    def calls_of(self, account_id: str) -> Iterator[Call]:
        """The account's calls, oldest first."""
        self.expire()
        return iter(self._kept(self._account_calls.get(account_id, {})))

    def _live_of(self, account_id: str) -> list[Call]:
        return [c for c in self._kept(self._live_calls.get(account_id, {})) if not c.ended]

    def active_call_count(self, account_id: str) -> int:
        return len(self._live_of(account_id))

    def queued_call_count(self, account_id: str) -> int:
        return sum(1 for c in self._live_of(account_id) if c.state == "queued")

    # ----------------------------------------------------------------------------- retention
    def expire(self) -> None:
        """Forget what is past its retention on the simulator's clock, or beyond the caps.

        Run when records are added or looked up (never while the engine updates one), so a call
        that has just ended stays until the next request or call comes.
        """
        now = self.now().timestamp()
        cap = max(0, self.max_ended_calls)
        calls = self._ended_calls
        while calls and (calls[0][0] + CALL_RETENTION_SECONDS <= now or len(calls) > cap):
            self.remove_call(calls.popleft()[1])
        recordings = self._finished_recordings
        while recordings and (
            recordings[0][0] + RECORDING_RETENTION_SECONDS <= now
            or len(recordings) > cap
            or self._recording_bytes > self.max_recording_bytes
        ):
            _, recording_id, size = recordings.popleft()
            self._recording_bytes -= size
            self.recordings.pop(recording_id, None)
        conferences = self._completed_conferences
        while conferences and (conferences[0][0] + CALL_RETENTION_SECONDS <= now or len(conferences) > cap):
            self.conferences.pop(conferences.popleft()[1], None)

    # ----------------------------------------------------------------------------- conferences
    def conference(self, conference_id: str) -> Conference | None:
        self.expire()
        return self.conferences.get(conference_id)

    def conference_by_name(self, account_id: str, name: str) -> Conference | None:
        """The account's *active* conference of that name (names are reused once one ends)."""
        for conf in self.conferences.values():
            if conf.account_id == account_id and conf.name == name and conf.active:
                return conf
        return None

    def conferences_of(self, account_id: str) -> Iterator[Conference]:
        self.expire()
        return (c for c in self.conferences.values() if c.account_id == account_id)

    def add_conference(self, account_id: str, name: str, *, conference_id: str | None = None) -> Conference:
        conf = Conference(
            account_id=account_id,
            id=conference_id or self.new_conference_id(),
            name=name,
            created_time=self.now(),
        )
        if conf.id in self.conferences:
            raise ValueError(f"duplicate conference id {conf.id}")
        self.conferences[conf.id] = conf
        return conf

    def add_member(self, conference: Conference, member: ConferenceMember) -> ConferenceMember:
        conference.members[member.call_id] = member
        return member

    def remove_member(self, conference: Conference, call_id: str) -> ConferenceMember | None:
        return conference.members.pop(call_id, None)

    def complete_conference(self, conference: Conference) -> None:
        if conference.completed_time is None:
            conference.completed_time = self.now()
            self._completed_conferences.append((conference.completed_time.timestamp(), conference.id))
        conference.members.clear()

    # ----------------------------------------------------------------------------- recordings
    def recording(self, recording_id: str) -> Recording | None:
        self.expire()
        return self.recordings.get(recording_id)

    def add_recording(self, recording: Recording) -> Recording:
        if recording.recording_id in self.recordings:
            raise ValueError(f"duplicate recording id {recording.recording_id}")
        self.recordings[recording.recording_id] = recording
        finished = (recording.end_time or self.now()).timestamp()
        size = len(recording.media or b"")
        self._finished_recordings.append((finished, recording.recording_id, size))
        self._recording_bytes += size
        self.expire()
        return recording

    def delete_recording(self, recording_id: str) -> Recording | None:
        return self.recordings.pop(recording_id, None)

    def recordings_of_account(self, account_id: str) -> Iterator[Recording]:
        self.expire()
        return (r for r in self.recordings.values() if r.account_id == account_id and r.call_id is not None)

    def recordings_of_call(self, call_id: str) -> Iterator[Recording]:
        return (r for r in self.recordings.values() if r.call_id == call_id)

    def recordings_of_conference(self, conference_id: str) -> Iterator[Recording]:
        return (r for r in self.recordings.values() if r.conference_id == conference_id)

    # ----------------------------------------------------------------------------- real-time transcriptions
    def realtime_transcription(self, transcription_id: str) -> RealTimeTranscription | None:
        return self.realtime_transcriptions.get(transcription_id)

    def add_realtime_transcription(self, transcription: RealTimeTranscription) -> RealTimeTranscription:
        self.realtime_transcriptions[transcription.transcription_id] = transcription
        self._call_transcriptions.setdefault(transcription.call_id, set()).add(transcription.transcription_id)
        return transcription

    def delete_realtime_transcription(self, transcription_id: str) -> RealTimeTranscription | None:
        found = self.realtime_transcriptions.pop(transcription_id, None)
        if found is not None:
            self._call_transcriptions.get(found.call_id, set()).discard(transcription_id)
        return found

    def realtime_transcriptions_of(self, call_id: str) -> Iterator[RealTimeTranscription]:
        return (t for t in self.realtime_transcriptions.values() if t.call_id == call_id)

    # ----------------------------------------------------------------------------- request log
    def next_request_seq(self) -> int:
        """The sequence number for the next :class:`RequestRecord` (1, 2, ...)."""
        self._request_seq += 1
        return self._request_seq

    def log_request(self, record: RequestRecord) -> RequestRecord:
        """Append to the log; a record with ``seq`` 0 gets the next sequence number."""
        if record.seq <= 0:
            record = replace(record, seq=self.next_request_seq())
        if len(record.path) > _LOGGED_TEXT or len(record.description or "") > _LOGGED_TEXT:
            description = record.description[:_LOGGED_TEXT] if record.description is not None else None
            record = replace(record, path=record.path[:_LOGGED_TEXT], description=description)
        self.requests.append(record)
        return record

    def clear_requests(self) -> None:
        self.requests.clear()

    def fingerprint(self) -> str:
        """A text that changes whenever any record changes (the request log excepted)."""
        parts = [
            repr(sorted(self.accounts.items())),
            repr(sorted((c.client_id, c.client_secret, c.accounts) for c in self.credentials.values())),
            repr(sorted(self.token_generations.items())),
            repr(list(self.calls.values())),
            repr(list(self.recordings.values())),
            repr(list(self.conferences.values())),
            repr(list(self.realtime_transcriptions.values())),
        ]
        return "\n".join(parts)

    def snapshot(self) -> dict[str, int]:
        """Counts of every kind of record: a cheap way for tests to see whether anything changed."""
        return {
            "accounts": len(self.accounts),
            "credentials": len(self.credentials),
            "calls": len(self.calls),
            "recordings": len(self.recordings),
            "conferences": len(self.conferences),
            "members": sum(len(c.members) for c in self.conferences.values()),
            "realtimeTranscriptions": len(self.realtime_transcriptions),
        }
